import koffi from "koffi";

/** `prctl` options (linux/prctl.h). */
const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;

/**
 * Marks this process non-dumpable, so that the agent's tools, which run as
 * the same uid in the same sandbox, cannot reach the runner: the kernel then
 * refuses them `ptrace`, `pidfd_getfd`, `process_vm_readv/writev` and opening
 * `/proc/<runner>/fd/*`, `mem` or `environ`, which is how they would read or
 * forge the runner's channel to the server. Nothing changes for the
 * runner's children: the flag is reset when they exec their own programs.
 *
 * Throws when the kernel does not confirm it (the runner must not run
 * exposed).
 */
export function makeNonDumpable(): void {
  const prctl = koffi
    .load("libc.so.6")
    .func(
      "int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)",
    );
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) !== 0) {
    throw new Error("prctl(PR_SET_DUMPABLE, 0) failed");
  }
}
