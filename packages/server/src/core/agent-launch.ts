import type { AgentProfile, PermissionPolicy, SessionOptions } from "@agent-runtime/protocol";
import type { AgentArchitecture, ModelEndpoint, RunnerInput } from "../agents/agent-architecture.js";
import { resolveConfinedPath } from "../confined-path.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import type { Sandbox, SandboxFile, SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { type SandboxEgress, sandboxEgressFor } from "./model-egress.js";

/** Sandbox name of a session: deterministic so another process can find it. */
export function sandboxNameFor(sessionId: string): string {
  return `session-${sessionId}`;
}

/** The permission policy of a session: its own option, else its profile's, else bypass. */
export function effectivePermissions(profile: AgentProfile, options: SessionOptions): PermissionPolicy {
  return options.permissions ?? profile.permissions ?? { mode: "bypass" };
}

export interface LaunchOptions {
  readonly sessionId: string;
  readonly architecture: AgentArchitecture;
  readonly profile: AgentProfile;
  readonly persistence: PersistenceAdapter;
  readonly sandboxProvider: SandboxProvider;
  readonly endpoint: ModelEndpoint;
  /** Limit the sandbox's egress (when its provider can) and keep the model key out of it. */
  readonly restrictEgress: boolean;
}

/**
 * The egress of a session's sandbox: with a provider that can limit it, the
 * sandbox reaches only the model (whose key its proxy injects) and the
 * profile's external MCP servers, and the agent holds a placeholder key.
 * Undefined: egress is open and the agent gets the real endpoint.
 */
export function egressFor(options: LaunchOptions): SandboxEgress | undefined {
  if (!options.restrictEgress || !options.sandboxProvider.capabilities.networkPolicy) return undefined;
  return sandboxEgressFor(options.endpoint, options.architecture, options.profile);
}

/**
 * What a new agent process of a session starts with: the files of its
 * sandbox (the profile materialised, the stored workspace files, the stored
 * transcript) and the runner's input. The agent resumes its conversation
 * natively when the transcript was restored.
 */
export async function prepareLaunch(
  options: LaunchOptions,
  session: { sandbox: Sandbox; sessionOptions: SessionOptions; nativeSessionId?: string | undefined },
): Promise<{ files: SandboxFile[]; input: RunnerInput }> {
  const { architecture, persistence, profile, sessionId } = options;
  const { sandbox, sessionOptions, nativeSessionId } = session;
  const dirs = { workspaceDir: sandbox.workspaceDir, homeDir: sandbox.homeDir };
  const files: SandboxFile[] = architecture.materialize({ profile, sessionOptions, ...dirs });
  for (const file of await persistence.listWorkspaceFiles(sessionId)) {
    files.push({ path: resolveConfinedPath(sandbox.workspaceDir, file.path), content: file.content });
  }
  const transcript = nativeSessionId ? await persistence.loadTranscript(sessionId) : null;
  if (nativeSessionId && transcript !== null) {
    files.push({ path: architecture.transcriptPath({ ...dirs, nativeSessionId }), content: transcript });
  }
  const input: RunnerInput = {
    profile,
    sessionOptions,
    ...dirs,
    endpoint: egressFor(options)?.agentEndpoint ?? options.endpoint,
    permissions: effectivePermissions(profile, sessionOptions),
    ...(nativeSessionId && transcript !== null ? { resumeSessionId: nativeSessionId } : {}),
  };
  return { files, input };
}
