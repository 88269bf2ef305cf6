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
  /** Further mounts (a layer, a build's folders), applied after the areas. */
  readonly extraMounts?: readonly string[];
  /** Mounts of runtime-owned read-only files (`ReadOnlyFiles.mounts`), applied after the areas. */
  readonly readOnlyFileMounts: readonly string[];
  /** Working directory inside. */
  readonly cwd: string;
  /** Descriptor on which bwrap reports the sandbox's init pid as JSON (`child-pid`). */
  readonly infoFd: number;
  /** Descriptor bwrap reads one byte from before running anything (set once the init is in its cgroups). */
  readonly blockFd?: number;
  /** Size limit of the sandbox's `/tmp` and, separately, `/dev/shm` (tmpfs each). */
  readonly tmpSizeBytes?: number;
  /** Descriptor from which bwrap reads the seccomp filter (`syscall-filter.ts`). */
  readonly seccompFd?: number;
  /**
   * Own network namespace (only loopback) and `/etc/hosts` mapping allowed
   * host names to loopback addresses. Absent: the host's network.
   */
  readonly network?: { readonly hostsFile: string };
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
 * Network: with a policy (`network`), the sandbox has its own network
 * namespace, in which the server listens on the allowed endpoints (see
 * `netns-listeners.ts`); without one, the host's network.
 */
export function bwrapArgs(input: BwrapArgsInput): string[] {
  const { workspace, home } = input.layout.areas;
  return [
    // Namespaces: own user (uid/gid mapped to the invoking user, an
    // unprivileged host uid), pid, ipc, uts and cgroup views; no further user
    // namespaces inside; the process tree dies with bwrap, in a new session
    // (no TIOCSTI into the server's terminal); no capabilities inside.
    "--unshare-user",
    "--disable-userns",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    ...(input.network ? ["--unshare-net"] : []),
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
    ...deviceArgs(input.tmpSizeBytes),
    ...(input.tmpSizeBytes === undefined ? [] : ["--size", String(input.tmpSizeBytes)]),
    "--tmpfs",
    "/tmp",
    ...input.hostMounts,
    "--ro-bind",
    input.passwdFile,
    "/etc/passwd",
    "--ro-bind",
    input.groupFile,
    "/etc/group",
    ...(input.network ? ["--ro-bind", input.network.hostsFile, "/etc/hosts"] : []),
    "--bind",
    workspace.host,
    workspace.inside,
    "--bind",
    home.host,
    home.inside,
    ...(input.extraMounts ?? []),
    ...input.readOnlyFileMounts,
    "--remount-ro",
    "/",
    "--chdir",
    input.cwd,
    "--info-fd",
    String(input.infoFd),
    ...(input.blockFd === undefined ? [] : ["--block-fd", String(input.blockFd)]),
    ...(input.seccompFd === undefined ? [] : ["--seccomp", String(input.seccompFd)]),
    "--",
    ...input.command,
  ];
}

/** Device nodes bound from the host: the harmless ones every program expects. */
const DEVICES = ["null", "zero", "full", "random", "urandom", "tty"];

/**
 * A minimal `/dev` on a small tmpfs, instead of bwrap's `--dev`: `--dev`
 * mounts a devpts, for which bwrap keeps uid 0 of an intermediate user
 * namespace and nests the sandbox's namespace inside it; without it the
 * sandbox's single namespace maps its uid straight to the host uid, which
 * `/proc/self/uid_map` then shows. No pseudo-terminals inside. `/dev/shm` is
 * a tmpfs of its own, size-limited like `/tmp`.
 */
function deviceArgs(shmSizeBytes: number | undefined): string[] {
  return [
    "--size",
    String(64 * 1024),
    "--tmpfs",
    "/dev",
    ...DEVICES.flatMap((name) => ["--dev-bind-try", `/dev/${name}`, `/dev/${name}`]),
    ...["stdin", "stdout", "stderr"].flatMap((name, fd) => [
      "--symlink",
      `/proc/self/fd/${fd}`,
      `/dev/${name}`,
    ]),
    "--symlink",
    "/proc/self/fd",
    "/dev/fd",
    ...(shmSizeBytes === undefined ? [] : ["--size", String(shmSizeBytes)]),
    "--tmpfs",
    "/dev/shm",
  ];
}
