import type { AgentProfile, AgentProfileInput } from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { parseAgentProfile } from "./parse-profile.js";
import type { ProfileLogger } from "./profile-aliases.js";

/**
 * Where sessions find their agent profiles: profiles given to the runtime
 * (code or folders) first, then those the persistence adapter stores.
 */
export class ProfileRegistry {
  private readonly fixed = new Map<string, AgentProfile>();

  /** `logger` receives the deprecation warnings of profiles that use the original system's field names. */
  constructor(
    profiles: readonly AgentProfileInput[],
    private readonly persistence: PersistenceAdapter,
    private readonly logger: ProfileLogger,
  ) {
    for (const input of profiles) this.add(input);
  }

  /**
   * Adds or replaces a profile; the original system's field names are
   * accepted with a warning (see `parseAgentProfile`). Throws `VALIDATION_FAILED`.
   */
  add(input: AgentProfileInput): void {
    const profile = parseAgentProfile(input, `agent profile ${JSON.stringify(input.id)}`, this.logger);
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
