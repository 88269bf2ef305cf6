import {
  type AgentProfile,
  DEFAULT_UNTRACKED_PATHS,
  type PermissionPolicy,
  type SessionOptions,
} from "@agent-runtime/protocol";
import type { AgentArchitecture, ModelEndpoint, RunnerInput } from "../agents/agent-architecture.js";
import { linkAbove, resolveConfinedPath } from "../confined-path.js";
import { RuntimeError } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import type { Sandbox, SandboxFile, SandboxProvider, WorkspaceEntry } from "../sandboxes/sandbox-provider.js";
import { type SandboxEgress, sandboxEgressFor } from "./model-egress.js";

/** Workspace paths a session does not track: its profile's (or the default) and its agent's own. */
export function untrackedPaths(profile: AgentProfile, architecture: AgentArchitecture): string[] {
  return [...(profile.untrackedPaths ?? DEFAULT_UNTRACKED_PATHS), ...(architecture.untrackedPaths ?? [])];
}

/**
 * Throws `UNSUPPORTED` when `model` names one of the further providers
 * (`<provider>/<model>`) and the architecture cannot use them.
 */
export function assertModelRunnable(
  architecture: AgentArchitecture,
  model: string | undefined,
  providers: Readonly<Record<string, unknown>>,
): void {
  const slash = model?.indexOf("/") ?? -1;
  if (!model || slash <= 0 || architecture.capabilities.modelProviders) return;
  const provider = model.slice(0, slash);
  if (Object.hasOwn(providers, provider)) {
    throw new RuntimeError(
      "UNSUPPORTED",
      `Model "${model}" is of provider "${provider}", which architecture "${architecture.id}" cannot use (it talks to the main model endpoint only)`,
    );
  }
}

/** Sandbox name of a session: deterministic so another process can find it. */
export function sandboxNameFor(sessionId: string): string {
  return `session-${sessionId}`;
}

/** The permission policy of a session: its own option, else its profile's, else bypass. */
export function effectivePermissions(profile: AgentProfile, options: SessionOptions): PermissionPolicy {
  return options.permissions ?? profile.permissions ?? { mode: "bypass" };
}

/**
 * Whether the architecture places a transcript for `nativeSessionId` (it
 * comes from the sandbox, so it may be hostile: such an id is ignored).
 */
export function namesTranscript(architecture: AgentArchitecture, nativeSessionId: string): boolean {
  try {
    architecture.transcriptPath({ homeDir: "/home", workspaceDir: "/workspace", nativeSessionId });
    return true;
  } catch {
    return false;
  }
}

export interface LaunchOptions {
  readonly sessionId: string;
  readonly architecture: AgentArchitecture;
  readonly profile: AgentProfile;
  readonly persistence: PersistenceAdapter;
  readonly sandboxProvider: SandboxProvider;
  readonly endpoint: ModelEndpoint;
  /** Further model providers, by name (architectures with `capabilities.modelProviders` use them). */
  readonly modelProviders: Readonly<Record<string, ModelEndpoint>>;
  /** Limit the sandbox's egress (when its provider can) and keep the model key out of it. */
  readonly restrictEgress: boolean;
}

/** What a launch is planned from besides the session: its agent, profile and the runtime's settings. */
export type LaunchSettings = Omit<LaunchOptions, "sessionId" | "persistence">;

/** The names of the further model providers the architecture may use. */
function providersFor(options: LaunchSettings): Readonly<Record<string, ModelEndpoint>> {
  return options.architecture.capabilities.modelProviders ? options.modelProviders : {};
}

/**
 * The files that materialise the profile for a session with `sessionOptions`
 * (runtime-owned configuration read-only; default files writable).
 */
export function profileFiles(
  options: LaunchSettings,
  dirs: { workspaceDir: string; homeDir: string },
  sessionOptions: SessionOptions,
): SandboxFile[] {
  const modelProviders = Object.keys(providersFor(options));
  return options.architecture.materialize({
    profile: options.profile,
    sessionOptions,
    ...dirs,
    ...(modelProviders.length > 0 ? { modelProviders } : {}),
  });
}

/** What the runner's agent of a session with `sessionOptions` starts with, in a sandbox with `dirs`. */
export function launchInput(
  options: LaunchSettings,
  dirs: { workspaceDir: string; homeDir: string },
  sessionOptions: SessionOptions,
  resumeSessionId?: string,
): RunnerInput {
  const { profile } = options;
  const providers = providersFor(options);
  const modelProviders = Object.keys(providers);
  const egress = egressFor(options);
  return {
    profile,
    sessionOptions,
    ...dirs,
    ...(modelProviders.length > 0
      ? { modelProviders, providerEndpoints: egress?.providerEndpoints ?? providers }
      : {}),
    endpoint: egress?.agentEndpoint ?? options.endpoint,
    permissions: effectivePermissions(profile, sessionOptions),
    ...(resumeSessionId ? { resumeSessionId } : {}),
  };
}

/**
 * The egress of a session's sandbox: with a provider that can limit it, the
 * sandbox reaches only the model (whose key its proxy injects) and the
 * profile's external MCP servers, and the agent holds a placeholder key.
 * Undefined: egress is open and the agent gets the real endpoint.
 */
export function egressFor(options: LaunchSettings): SandboxEgress | undefined {
  if (!options.restrictEgress || !options.sandboxProvider.capabilities.networkPolicy) return undefined;
  return sandboxEgressFor(options.endpoint, options.architecture, options.profile, options.modelProviders);
}

/** The size of a file in `sandbox` without reading it where the provider can open files; undefined when there is none. */
async function sizeOf(sandbox: Sandbox, path: string): Promise<number | undefined> {
  try {
    if (!sandbox.openFile) return (await sandbox.readFile(path)).byteLength;
    const reader = await sandbox.openFile(path);
    await reader.close();
    return reader.size;
  } catch {
    return undefined;
  }
}

/** Where a sandbox records that the restore into it completed. */
function restoredMarker(sandbox: Sandbox): string {
  return `${sandbox.homeDir}/.agent-runtime/workspace-restored`;
}

/** What a new agent process of a session starts with. */
export interface Launch {
  /** Files to write into the sandbox before the agent starts. */
  readonly files: SandboxFile[];
  /** Written once `files` are: the sandbox's workspace is complete (a later start may trust what it kept). */
  readonly marker: SandboxFile;
  readonly input: RunnerInput;
  /**
   * The workspace the sandbox already held (a disk its provider kept, e.g.
   * after a crash or an idle teardown); empty when it started empty and the
   * stored files were restored into it.
   */
  readonly kept: WorkspaceEntry[];
  /** The stored transcript the agent resumes from; `null` when the sandbox kept a newer one; absent: none. */
  readonly transcript?: string | null;
}

/**
 * Plans the start of a session's agent in `sandbox`. A sandbox that kept its
 * workspace from a complete restore is trusted as it is (nothing stored is
 * written over a newer file, and the files the agent changed since stay);
 * any other gets the stored workspace files it lacks, byte for byte, and
 * keeps the files it has. The stored transcript is restored
 * unless the sandbox kept a longer one. Runtime-owned files (the profile's
 * configuration) are always written; its default workspace files only where
 * the workspace has no file of that name.
 */
export async function prepareLaunch(
  options: LaunchOptions,
  session: { sandbox: Sandbox; sessionOptions: SessionOptions; nativeSessionId?: string | undefined },
): Promise<Launch> {
  const { architecture, persistence, sessionId } = options;
  const { sandbox, sessionOptions, nativeSessionId } = session;
  const dirs = { workspaceDir: sandbox.workspaceDir, homeDir: sandbox.homeDir };
  const marker = restoredMarker(sandbox);
  const onDisk = await sandbox.listWorkspace();
  // Trusted only when the restore into it had completed: a start that failed half-way must not lose the rest.
  const kept =
    onDisk.length > 0 &&
    (await sandbox.readFile(marker).then(
      () => true,
      () => false,
    ))
      ? onDisk
      : [];
  const present = new Set(onDisk.map((entry) => resolveConfinedPath(sandbox.workspaceDir, entry.path)));
  const files = profileFiles(options, dirs, sessionOptions).filter(
    (file) => file.readOnly || !present.has(file.path),
  );
  if (kept.length === 0) {
    const stored = await persistence.listWorkspaceFiles(sessionId);
    const links = new Set(stored.flatMap((file) => (file.linkTarget === undefined ? [] : [file.path])));
    for (const { path, linkTarget } of stored) {
      // A file stored below a link (a folder the agent replaced by one) is not written through it.
      if (linkAbove(path, links) !== undefined) continue;
      const absolute = resolveConfinedPath(sandbox.workspaceDir, path);
      if (present.has(absolute)) continue;
      if (linkTarget !== undefined) {
        files.push({ path: absolute, content: "", linkTarget });
        continue;
      }
      const content = await persistence.loadWorkspaceFile(sessionId, path);
      if (content) files.push({ path: absolute, content });
    }
  }
  let transcript: string | null | undefined;
  if (nativeSessionId) {
    const path = architecture.transcriptPath({ ...dirs, nativeSessionId });
    const stored = await persistence.loadTranscript(sessionId);
    const own = await sizeOf(sandbox, path);
    if (own !== undefined && own > Buffer.byteLength(stored ?? "")) transcript = null;
    else if (stored !== null) {
      transcript = stored;
      files.push({ path, content: stored });
    }
  }
  const input = launchInput(
    options,
    dirs,
    sessionOptions,
    nativeSessionId && transcript !== undefined ? nativeSessionId : undefined,
  );
  return {
    files,
    marker: { path: marker, content: "" },
    input,
    kept,
    ...(transcript === undefined ? {} : { transcript }),
  };
}
