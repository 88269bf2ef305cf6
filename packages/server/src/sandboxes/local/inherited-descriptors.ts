import { readdirSync } from "node:fs";
import koffi from "koffi";

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Marks close-on-exec every descriptor above stderr that this process
 * inherited without that flag (from a shell, a supervisor, socket
 * activation, a test runner), so that no sandbox process inherits it through
 * bwrap. Node.js opens its own descriptors close-on-exec, and hands children
 * the ones it means them to have explicitly, so nothing the server does
 * changes. Returns how many were marked.
 */
export function closeInheritedOnExec(): number {
  const fcntl = koffi.load("libc.so.6").func("int fcntl(int fd, int cmd, ...)");
  let marked = 0;
  for (const entry of readdirSync("/proc/self/fd")) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    const flags = fcntl(fd, F_GETFD) as number;
    if (flags < 0 || (flags & FD_CLOEXEC) !== 0) continue;
    if ((fcntl(fd, F_SETFD, "int", flags | FD_CLOEXEC) as number) === 0) marked++;
  }
  return marked;
}
