import type { SandboxLayout } from "./sandbox-paths.js";

export interface BwrapArgsInput {
  readonly uid: number;
  readonly gid: number;
  readonly layout: SandboxLayout;
  /** Shared read-only host mounts (`HostMounts.args`). */
  readonly hostMounts: readonly string[];
  /** Generated `/etc/passwd` and `/etc/group` naming the agent user. */
  readonly passwdFile: string;
  readonly groupFile: string;
  /** Mounts of runtime-owned read-only files (`ReadOnlyFiles.mounts`), applied after the areas. */
  readonly readOnlyFileMounts: readonly string[];
  /** Working directory inside. */
  readonly cwd: string;
  /** Descriptor on which bwrap reports the sandbox's init pid as JSON (`child-pid`). */
  readonly infoFd: number;
  readonly command: readonly string[];
}

/**
 * The bwrap command line of one `exec`. Order matters: bwrap applies mounts
 * in sequence, so the writable areas come before the read-only files mounted
 * over them, and `--remount-ro /` comes last, making the rest of the root
 * (a tmpfs holding the mount points, e.g. `/home`) read-only.
 *
 * The environment is not on this command line (bwrap passes its own, which
 * the caller sets to exactly the sandbox's), so that values such as API keys
 * never appear in the host's world-readable `/proc/<pid>/cmdline`.
 *
 * Network: the host's network namespace is shared for now, because the model
 * endpoint may be on the host's loopback. Egress policy (a network namespace
 * with a proxy to the allowed endpoints) is a later step.
 */
export function bwrapArgs(input: BwrapArgsInput): string[] {
  const { workspace, home } = input.layout.areas;
  return [
    // Namespaces: own user (uid/gid mapped to the invoking user), pid, ipc,
    // uts and cgroup views; the process tree dies with bwrap, in a new session
    // (no TIOCSTI into the server's terminal); no capabilities inside.
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--uid",
    String(input.uid),
    "--gid",
    String(input.gid),
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    ...input.hostMounts,
    "--ro-bind",
    input.passwdFile,
    "/etc/passwd",
    "--ro-bind",
    input.groupFile,
    "/etc/group",
    "--bind",
    workspace.host,
    workspace.inside,
    "--bind",
    home.host,
    home.inside,
    ...input.readOnlyFileMounts,
    "--remount-ro",
    "/",
    "--chdir",
    input.cwd,
    "--info-fd",
    String(input.infoFd),
    "--",
    ...input.command,
  ];
}
