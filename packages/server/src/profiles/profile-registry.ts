import { type AgentProfile, type AgentProfileInput, agentProfileSchema } from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { validateInput } from "./validate-input.js";

/**
 * Where sessions find their agent profiles: profiles given to the runtime
 * (code or folders) first, then those the persistence adapter stores.
 */
export class ProfileRegistry {
  private readonly fixed = new Map<string, AgentProfile>();

  constructor(
    profiles: readonly AgentProfileInput[],
    private readonly persistence: PersistenceAdapter,
  ) {
    for (const input of profiles) this.add(input);
  }

  /** Adds or replaces a profile. Throws `VALIDATION_FAILED`. */
  add(input: AgentProfileInput): void {
    const profile = validateInput(agentProfileSchema, input, `agent profile ${JSON.stringify(input.id)}`);
    this.fixed.set(profile.id, profile);
  }

  async list(): Promise<AgentProfile[]> {
    const stored = await this.persistence.listAgentProfiles();
    const merged = new Map(stored.map((profile) => [profile.id, profile]));
    for (const [id, profile] of this.fixed) merged.set(id, profile);
    return [...merged.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Throws `PROFILE_NOT_FOUND`. */
  async get(id: string): Promise<AgentProfile> {
    const profile = this.fixed.get(id) ?? (await this.persistence.loadAgentProfile(id));
    if (!profile) throw new RuntimeError("PROFILE_NOT_FOUND", `Agent profile "${id}" not found`);
    return profile;
  }
}
