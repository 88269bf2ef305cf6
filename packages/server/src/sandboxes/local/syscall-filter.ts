import { closeSync, openSync, renameSync } from "node:fs";
import koffi from "koffi";
import { errorMessage, RuntimeError } from "../../errors.js";

/**
 * The seccomp filter every process of a local sandbox runs under, compiled
 * by libseccomp (the library bubblewrap, systemd and container runtimes use)
 * and handed to bwrap with `--seccomp`. The default action is "allow": the
 * filter denies what an agent and its tools have no use for and what widens
 * the kernel surface a sandbox can reach. Denied calls fail with an error
 * (never a kill), so programs that probe for a feature fall back:
 *
 * - reaching other processes' memory and descriptors: `ptrace` attach/seize
 *   (a tool may still trace a child that asks for it with PTRACE_TRACEME, as
 *   `strace cmd` and `gdb` do), `pidfd_getfd`, `process_vm_readv/writev`;
 * - namespaces and mounts: `unshare`, `setns`, `clone` with any `CLONE_NEW*`
 *   flag, `mount` and the new mount API, `pivot_root`, `chroot` (bwrap's
 *   `--disable-userns` also caps nested user namespaces at zero);
 * - `clone3` (its flags live in memory a filter cannot read) answers ENOSYS,
 *   and the C library falls back to `clone`;
 * - kernel subsystems with a history of privilege escalations: `io_uring_*`
 *   (ENOSYS: libuv and others fall back to threads), `bpf`, `perf_event_open`,
 *   `userfaultfd`, `keyctl`/`add_key`/`request_key` (the kernel keyring is
 *   not namespaced);
 * - host administration: modules, `kexec`, `reboot`, swap, `acct`, quotas,
 *   clocks, `syslog`, I/O ports, file handles (`open_by_handle_at`);
 * - terminal injection: `ioctl(TIOCSTI)` and `ioctl(TIOCLINUX)`.
 *
 * System calls of other ABIs (e.g. 32-bit on x86-64) kill the process:
 * libseccomp's default for a foreign architecture, which closes the old
 * trick of calling the 32-bit entry point to dodge a 64-bit filter.
 */

const SCMP_ACT_ALLOW = 0x7fff0000;
const SCMP_ACT_ERRNO = (errno: number) => 0x00050000 | (errno & 0xffff);
const EPERM = 1;
const ENOSYS = 38;
/** `enum scmp_compare`. */
const SCMP_CMP_EQ = 4;
const SCMP_CMP_MASKED_EQ = 7;

const PTRACE_ATTACH = 16;
const PTRACE_SEIZE = 0x4206;
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
/** CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME. */
const CLONE_NEW_FLAGS = [
  0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80,
];

/** Denied outright with EPERM. */
const DENIED = [
  "pidfd_getfd",
  "process_vm_readv",
  "process_vm_writev",
  "unshare",
  "setns",
  "mount",
  "umount",
  "umount2",
  "pivot_root",
  "chroot",
  "move_mount",
  "open_tree",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
  "bpf",
  "perf_event_open",
  "userfaultfd",
  "keyctl",
  "add_key",
  "request_key",
  "init_module",
  "finit_module",
  "delete_module",
  "kexec_load",
  "kexec_file_load",
  "reboot",
  "swapon",
  "swapoff",
  "acct",
  "quotactl",
  "quotactl_fd",
  "syslog",
  "iopl",
  "ioperm",
  "settimeofday",
  "clock_settime",
  "clock_adjtime",
  "adjtimex",
  "open_by_handle_at",
  "name_to_handle_at",
  "lookup_dcookie",
  "nfsservctl",
  "vhangup",
  "uselib",
  "ustat",
  "sysfs",
  "_sysctl",
] as const;

/** Answered with ENOSYS, so that callers take their fallback path. */
const UNAVAILABLE = ["io_uring_setup", "io_uring_enter", "io_uring_register", "clone3"] as const;

interface Libseccomp {
  init(defaultAction: number): unknown;
  resolve(name: string): number;
  ruleAdd(ctx: unknown, action: number, syscall: number, count: number, args: unknown): number;
  exportBpf(ctx: unknown, fd: number): number;
  release(ctx: unknown): void;
}

let library: Libseccomp | undefined;

function libseccomp(): Libseccomp {
  if (library) return library;
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load("libseccomp.so.2");
  } catch (error) {
    throw new RuntimeError(
      "SANDBOX_FAILED",
      `Local sandboxes need libseccomp for their system-call filter and cannot load it (${errorMessage(error)}). ` +
        "Install it (Debian/Ubuntu: `apt-get install libseccomp2`).",
      { cause: error },
    );
  }
  // Anonymous: koffi's type names are global, and two copies of this module may be loaded.
  const argCmp = koffi.struct({ arg: "uint32_t", op: "uint32_t", datum_a: "uint64_t", datum_b: "uint64_t" });
  const init = lib.func("seccomp_init", "void *", ["uint32_t"]);
  const resolve = lib.func("seccomp_syscall_resolve_name", "int", ["const char *"]);
  const ruleAdd = lib.func("seccomp_rule_add_array", "int", [
    "void *",
    "uint32_t",
    "int",
    "unsigned int",
    koffi.pointer(argCmp),
  ]);
  const exportBpf = lib.func("seccomp_export_bpf", "int", ["void *", "int"]);
  const release = lib.func("seccomp_release", "void", ["void *"]);
  library = {
    init: (action) => init(action),
    resolve: (name) => resolve(name) as number,
    ruleAdd: (ctx, action, syscall, count, args) => ruleAdd(ctx, action, syscall, count, args) as number,
    exportBpf: (ctx, fd) => exportBpf(ctx, fd) as number,
    release: (ctx) => release(ctx),
  };
  return library;
}

type Comparison = { arg: number; op: number; datum_a: number; datum_b: number };

/**
 * Compiles the filter for this machine's architecture and writes it, as the
 * raw BPF program bwrap's `--seccomp` reads, to `path` (atomically).
 * Throws `SANDBOX_FAILED` when libseccomp is missing or refuses a rule.
 */
export function writeSyscallFilter(path: string): void {
  const seccomp = libseccomp();
  const ctx = seccomp.init(SCMP_ACT_ALLOW);
  if (!ctx) throw new RuntimeError("SANDBOX_FAILED", "libseccomp could not start a filter");
  try {
    const add = (name: string, action: number, args: Comparison[] = []) => {
      const syscall = seccomp.resolve(name);
      // A call this architecture does not have (e.g. `iopl` on arm64) needs no rule.
      if (syscall < 0) return;
      const result = seccomp.ruleAdd(ctx, action, syscall, args.length, args.length > 0 ? args : null);
      if (result !== 0) {
        throw new RuntimeError("SANDBOX_FAILED", `libseccomp refused the rule for ${name} (${result})`);
      }
    };
    const equals = (arg: number, value: number): Comparison => ({
      arg,
      op: SCMP_CMP_EQ,
      datum_a: value,
      datum_b: 0,
    });
    for (const name of DENIED) add(name, SCMP_ACT_ERRNO(EPERM));
    for (const name of UNAVAILABLE) add(name, SCMP_ACT_ERRNO(ENOSYS));
    for (const request of [PTRACE_ATTACH, PTRACE_SEIZE])
      add("ptrace", SCMP_ACT_ERRNO(EPERM), [equals(0, request)]);
    // The kernel reads an ioctl request as 32 bits: compare only those, or high bits would slip past.
    for (const request of [TIOCSTI, TIOCLINUX]) {
      add("ioctl", SCMP_ACT_ERRNO(EPERM), [
        { arg: 1, op: SCMP_CMP_MASKED_EQ, datum_a: 0xffffffff, datum_b: request },
      ]);
    }
    for (const flag of CLONE_NEW_FLAGS) {
      add("clone", SCMP_ACT_ERRNO(EPERM), [{ arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: flag, datum_b: flag }]);
    }
    const temp = `${path}.${process.pid}.tmp`;
    const fd = openSync(temp, "w", 0o644);
    try {
      const result = seccomp.exportBpf(ctx, fd);
      if (result !== 0)
        throw new RuntimeError("SANDBOX_FAILED", `libseccomp could not export the filter (${result})`);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } finally {
    seccomp.release(ctx);
  }
}
