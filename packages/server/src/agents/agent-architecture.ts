import type {
  AgentProfile,
  Architecture,
  ArchitectureCapabilities,
  Block,
  PermissionPolicy,
  RunnerConfigInput,
  SessionOptions,
  Subagent,
  Usage,
} from "@agent-runtime/protocol";
import type { SandboxFile, SandboxSecret } from "../sandboxes/sandbox-provider.js";

/** Where the model is reached. The key never enters files; it is passed in the runner's environment. */
export interface ModelEndpoint {
  readonly baseUrl?: string;
  readonly apiKey?: string;
}

/** A key header a sandbox's egress proxy sets, and the requests it sets it on (see `SandboxSecret`). */
export type ModelCredential = Pick<SandboxSecret, "header" | "value" | "paths">;

export interface MaterializeInput {
  readonly profile: AgentProfile;
  readonly sessionOptions: SessionOptions;
  readonly workspaceDir: string;
  readonly homeDir: string;
  /** Names of the further model providers the runtime has (see `AgentRuntimeOptions.modelProviders`). */
  readonly modelProviders?: readonly string[];
}

export interface RunnerInput extends MaterializeInput {
  readonly endpoint: ModelEndpoint;
  /** The further model providers, by name, as the agent reaches them (through the egress proxy when restricted). */
  readonly providerEndpoints?: Readonly<Record<string, ModelEndpoint>>;
  /** The session's effective permission policy (session option, else profile, else bypass). */
  readonly permissions: PermissionPolicy;
  /** Architecture-native session id to resume, when a transcript was restored. */
  readonly resumeSessionId?: string;
}

/**
 * What a parser makes of native agent output. Block ids are stable: parsing
 * the same native messages again yields the same ids.
 */
export type AgentEvent =
  | { readonly kind: "block_start"; readonly block: Block }
  | { readonly kind: "block_delta"; readonly blockId: string; readonly delta: string }
  | { readonly kind: "block_update"; readonly blockId: string; readonly updates: Partial<Block> }
  | { readonly kind: "block_complete"; readonly block: Block }
  | { readonly kind: "subagent_discovered"; readonly subagent: Subagent }
  | { readonly kind: "subagent_completed"; readonly subagentId: string; readonly status: Subagent["status"] }
  /** Usage of one finished turn (all of it, subagents included). */
  | { readonly kind: "usage"; readonly usage: Usage; readonly estimated: boolean }
  /** The agent's own session id, needed to resume natively. */
  | { readonly kind: "native_session"; readonly nativeSessionId: string };

/**
 * Turns one architecture's native messages (as relayed by the runner) into
 * agent events. It never decides that a turn ended: the runner's `turn_end`
 * does. One parser lives as long as one runner process. `parse`
 * never throws: malformed input yields an `error` block.
 */
export interface AgentOutputParser {
  parse(message: unknown): AgentEvent[];
  /** Completes every block still open (end of turn, interrupt, process exit). */
  flush(): AgentEvent[];
}

export interface ParserContext {
  /** Clock for block timestamps. @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * One agent architecture (Claude Agent SDK, OpenCode, …): how a profile
 * becomes files in the sandbox, how the runner is configured, how native
 * output becomes blocks, and where the native transcript lives.
 */
export interface AgentArchitecture {
  readonly id: Architecture;
  /** What it supports; served at `GET /agent-architectures`, and clients hide what an agent cannot do. */
  readonly capabilities: ArchitectureCapabilities;
  /** Workspace folders the agent keeps its own state in: never tracked, whatever the profile says. */
  readonly untrackedPaths?: readonly string[];
  /**
   * Throws `VALIDATION_FAILED` when a session of `profile` with
   * `sessionOptions` cannot run on this architecture (checked when the
   * session is created). Absent: every profile can.
   */
  assertRunnable?(profile: AgentProfile, sessionOptions: SessionOptions): void;
  /** Files that materialise the profile in the sandbox (memory file, skills, subagents, commands, settings, default files). */
  materialize(input: MaterializeInput): SandboxFile[];
  runnerConfig(input: RunnerInput): RunnerConfigInput;
  /**
   * The header that carries the model API key in this agent's requests, so a
   * sandbox proxy can set the real key while the agent holds a placeholder.
   */
  credentialHeader(apiKey: string): { header: string; value: string };
  /**
   * The requests of the model API this agent makes (added after v1), given
   * the path of the endpoint's base URL (`""`, or e.g. `/anthropic`), as
   * `SandboxSecret.paths` entries: e.g. `["POST /anthropic/v1/messages"]`
   * (exactly that method and path), or a plain path covering itself and what
   * is below it. A sandbox's proxy sets the key on those requests only and
   * refuses the endpoint's others. Absent: the key goes with every request
   * to the endpoint.
   */
  modelApiPaths?(basePath: string): string[];
  /**
   * How a further model provider's key goes with its requests (see
   * `AgentRuntimeOptions.modelProviders`), when not as the main endpoint's
   * (`credentialHeader` on `modelApiPaths`): given the provider's name, the
   * path of its base URL and its key, each header with its value and the
   * requests it goes with. OpenCode's hosted models (`opencode`) speak
   * several APIs, each with its own key header. Absent, or undefined for a
   * provider: as the main endpoint's.
   */
  providerCredentials?(provider: string, basePath: string, apiKey: string): ModelCredential[] | undefined;
  /** Environment of the runner process (model endpoint, key, profile env). */
  runnerEnv(input: RunnerInput): Record<string, string>;
  createParser(context?: ParserContext): AgentOutputParser;
  /**
   * Absolute sandbox path of the native transcript of `nativeSessionId`.
   * Throws `INVALID_PATH` for an id that would leave the transcript folder
   * (the id comes from the sandbox; such an id is ignored).
   */
  transcriptPath(input: { homeDir: string; workspaceDir: string; nativeSessionId: string }): string;
}
