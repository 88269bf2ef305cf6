import { type AgentProfile, agentProfileSchema } from "@agent-runtime/protocol";
import { assertProfileDependencies } from "../dependencies/dependency-layer.js";
import { isRecord } from "./front-matter.js";
import { migrateProfileAliases, type ProfileLogger } from "./profile-aliases.js";
import { assertProfileTools } from "./profile-tools.js";
import { validateInput } from "./validate-input.js";

/**
 * A profile as an application gives it (in code, or read from a file):
 * the original system's field names are mapped onto ours with a deprecation
 * warning (see `migrateProfileAliases`), then it is validated (see
 * `validateAgentProfile`). Throws `VALIDATION_FAILED` naming `source`.
 */
export function parseAgentProfile(input: unknown, source: string, logger: ProfileLogger): AgentProfile {
  return validateAgentProfile(isRecord(input) ? migrateProfileAliases(input, source, logger) : input, source);
}

/**
 * Validates profile fields with defaults applied: strict (an unknown field
 * is an error naming it), tool names checked (see
 * `assertProfileTools`) and bundled MCP projects (see
 * `assertProfileDependencies`). Throws `VALIDATION_FAILED` naming `source` and the
 * field.
 */
export function validateAgentProfile(fields: unknown, source: string): AgentProfile {
  const profile = validateInput(agentProfileSchema, fields, source);
  assertProfileTools(profile, source);
  assertProfileDependencies(profile, source);
  return profile;
}
