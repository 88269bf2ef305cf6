import { availableParallelism } from "node:os";
import { z } from "zod";

const absolutePath = z.string().refine((value) => value.startsWith("/"), "must be an absolute path");

export const localSandboxOptionsSchema = z.object({
  /** Folder that holds one sub-folder per sandbox (e.g. `<dataDir>/sandboxes`). Created when missing. */
  rootDir: absolutePath,
  /** User id of every process inside the sandbox. @default 1000 */
  uid: z.number().int().min(1).max(65_533).default(1000),
  /** Group id of every process inside the sandbox. @default 1000 */
  gid: z.number().int().min(1).max(65_533).default(1000),
  /**
   * Unprivileged host uids (and gids of the same numbers) for sandboxes when
   * the server runs as root: each sandbox folder gets one of its own, and the
   * agent's uid inside maps to it, never to root. They must belong to no
   * user of the host. A server running as another user runs every sandbox
   * as its own uid instead (see `HostUsers`).
   * @default { first: 1_500_000_000, count: 1_000_000 }
   */
  hostUids: z
    .object({
      first: z.number().int().min(1000).max(4_000_000_000).default(1_500_000_000),
      count: z.number().int().min(1).max(100_000_000).default(1_000_000),
    })
    .prefault({}),
  /**
   * Runs commands directly on the host, as the server's own user, without
   * bubblewrap: no isolation at all, read-only files are only chmod'ed. For
   * machines where bubblewrap cannot run; never for untrusted agents.
   * @default false
   */
  unsafeNoIsolation: z.boolean().default(false),
  /** The bubblewrap executable. @default "/usr/bin/bwrap" */
  bwrapPath: absolutePath.default("/usr/bin/bwrap"),
  /**
   * Host paths bound read-only at the same path inside every sandbox (extra
   * toolchains, e.g. `/opt/python`). They must exist. Everything visible
   * inside must be free of secrets: files the agent can read there are
   * readable by any user of the host (when the server is not root, the agent
   * runs as the server's uid and can read what it owns, mode 0600 included).
   * @default []
   */
  extraReadOnlyPaths: z.array(absolutePath).default([]),
  /**
   * Per-sandbox resource limits. `pids` and `memoryMiB` are enforced with
   * cgroups (v2 in a delegated cgroup, or v1 as root) and are not enforced
   * where the host allows neither: `capabilities.resourceLimits` says which.
   * `diskMiB` limits workspace and home together (a sparse ext4 image of
   * that size, loop-mounted; fixed when the sandbox is first created, and
   * only where the server runs as root with loop devices and `mkfs.ext4`)
   * and, separately, the sandbox's `/tmp` (a tmpfs, charged to the memory
   * limit too), and `/dev/shm` (another tmpfs of that size). Without loop
   * mounts, and for sandboxes created before disk images, workspace and home
   * are host folders without a quota. `cpus` is CPU time per wall-clock time
   * in cores, enforced by the cgroup `cpu` controller where the host has it.
   * @default { pids: 1024, memoryMiB: 4096, diskMiB: 1024, cpus: three quarters of the machine's cores (at least 1) }
   */
  limits: z
    .object({
      pids: z.number().int().min(16).default(1024),
      memoryMiB: z.number().int().min(64).default(4096),
      diskMiB: z.number().int().min(1).default(1024),
      cpus: z
        .number()
        .min(0.01)
        .default(() => Math.max(1, availableParallelism() * 0.75)),
    })
    .prefault({}),
});

/** Options of `createLocalSandboxProvider`, as the caller writes them. */
export type LocalSandboxOptions = z.input<typeof localSandboxOptionsSchema>;
/** Options with defaults applied. */
export type ResolvedLocalSandboxOptions = z.output<typeof localSandboxOptionsSchema>;
