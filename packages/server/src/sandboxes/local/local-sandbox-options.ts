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
   * inside must be free of secrets: the agent's uid is mapped to the server's
   * uid, so it can read files the server's user owns even with mode 0600.
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
   * limit too). Without loop mounts, and for sandboxes created before disk
   * images, workspace and home are host folders without a quota.
   * @default { pids: 1024, memoryMiB: 4096, diskMiB: 1024 }
   */
  limits: z
    .object({
      pids: z.number().int().min(16).default(1024),
      memoryMiB: z.number().int().min(64).default(4096),
      diskMiB: z.number().int().min(1).default(1024),
    })
    .prefault({}),
});

/** Options of `createLocalSandboxProvider`, as the caller writes them. */
export type LocalSandboxOptions = z.input<typeof localSandboxOptionsSchema>;
/** Options with defaults applied. */
export type ResolvedLocalSandboxOptions = z.output<typeof localSandboxOptionsSchema>;
