import { spawn } from "node:child_process";
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Server, type Socket } from "node:net";
import koffi from "koffi";
import { errorMessage, RuntimeError } from "../../errors.js";
import type { SandboxRoute } from "./sandbox-network.js";

/**
 * The server's listeners inside a sandbox's network namespace: one per
 * allowed endpoint, at its address and its own port (443 included), with no
 * process of ours inside. A socket belongs to the namespace it was created
 * in; the server then binds it (a port below 1024 needs CAP_NET_BIND_SERVICE
 * in the user namespace that owns the network namespace: root has it, and so
 * does the uid that created that user namespace, which is the server's own
 * when it is not root) and listens. Two ways to create the sockets, chosen
 * once per provider (`listenerMethod`):
 *
 * - `setns` (a server with CAP_SYS_ADMIN and CAP_SYS_PTRACE: root): the main
 *   thread enters the namespace, creates the sockets, and returns to its own
 *   namespace before anything else runs. A few system calls.
 * - `helper` (any other server; the kernel lets a process enter another
 *   network namespace only with CAP_SYS_ADMIN in its own user namespace
 *   too): a short-lived helper, running as the sandbox's host uid, enters the
 *   user namespace that owns the sandbox's network namespace and the network
 *   namespace with `nsenter`, creates the sockets and waits; the server takes
 *   copies of them (`pidfd_getfd`, Linux 5.6) and ends it. A Node.js start
 *   per sandbox process.
 */
export type ListenerMethod = "setns" | "helper";

/** Most connections one sandbox process may hold open through its listeners; more are closed at once. */
const MAX_CONNECTIONS = 256;
/** How long the helper may take to create its sockets. */
const HELPER_TIMEOUT_MS = 15_000;
/** Bytes of the helper's output kept (its socket numbers, or why it failed). */
const MAX_HELPER_OUTPUT = 4096;

/** Capability bits (linux/capability.h) the `setns` method needs in the server's own user namespace. */
const CAP_SYS_PTRACE = 19;
const CAP_SYS_ADMIN = 21;

/** `setns` where this process's effective capabilities allow it, else `helper`. Reads `/proc/self/status`. */
export function listenerMethod(): ListenerMethod {
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  const effective = BigInt(`0x${line?.[1] ?? "0"}`);
  const has = (bit: number) => (effective >> BigInt(bit)) & 1n;
  return has(CAP_SYS_ADMIN) && has(CAP_SYS_PTRACE) ? "setns" : "helper";
}

/** Where `nsenter` is looked for. */
const SYSTEM_BIN_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/** The `nsenter` executable the `helper` method runs, if the host has one. */
export function findNsenter(): string | undefined {
  return SYSTEM_BIN_DIRS.map((dir) => `${dir}/nsenter`).find((path) => existsSync(path));
}

/** Listeners of one sandbox process. */
export interface SandboxListeners {
  /** Stops listening and destroys the connections they accepted. Idempotent. */
  close(): void;
}

/**
 * Listens on every route inside the network namespace of the process `pid`
 * (the sandbox's init, held by bwrap's `--block-fd` so that nothing inside
 * runs yet) and hands each accepted connection to `onConnection` with the
 * route's endpoint. `hostUid` is the sandbox's host uid (the `helper` runs as
 * it). Throws `SANDBOX_FAILED` when a listener cannot be made.
 */
export async function listenInSandbox(
  pid: number,
  routes: readonly SandboxRoute[],
  options: {
    readonly method: ListenerMethod;
    readonly hostUid: number;
    readonly onConnection: (client: Socket, endpoint: string) => void;
  },
): Promise<SandboxListeners> {
  if (routes.length === 0) return { close: () => undefined };
  const fds =
    options.method === "setns"
      ? createdInNamespace(pid, routes.length)
      : await createdByHelper(pid, routes.length, options.hostUid);
  try {
    routes.forEach((route, index) => {
      bindAndListen(fds[index]!, route);
    });
  } catch (error) {
    for (const fd of fds) closeSync(fd);
    throw error;
  }
  const servers = fds.map((fd) => new Server().listen({ fd }));
  const connections = new Set<Socket>();
  servers.forEach((server, index) => {
    const endpoint = routes[index]!.endpoint;
    server.on("connection", (client: Socket) => {
      if (connections.size >= MAX_CONNECTIONS) {
        client.destroy();
        return;
      }
      connections.add(client);
      client.once("close", () => connections.delete(client));
      options.onConnection(client, endpoint);
    });
    // An accept error (e.g. the server out of descriptors for a moment) is not the listener's end: it keeps listening.
    server.on("error", () => undefined);
  });
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      for (const server of servers) server.close();
      for (const client of connections) client.destroy();
    },
  };
}

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IP = 0;
const IP_FREEBIND = 15;
const CLONE_NEWNET = 0x40000000;
const LISTEN_BACKLOG = 128;
/** System calls without a wrapper in older C libraries; the same numbers on every architecture. */
const SYS_PIDFD_OPEN = 434;
const SYS_PIDFD_GETFD = 438;
/** koffi's entry point, which the helper loads. */
const KOFFI_PATH = createRequire(import.meta.url).resolve("koffi");
/** `ioctl` request returning the user namespace that owns a namespace (linux/nsfs.h). */
const NS_GET_USERNS = 0xb701;

interface Libc {
  readonly setns: (fd: number, type: number) => number;
  readonly socket: (domain: number, type: number, protocol: number) => number;
  readonly setsockopt: (fd: number, level: number, name: number, value: Buffer, length: number) => number;
  readonly bind: (fd: number, address: Buffer, length: number) => number;
  readonly listen: (fd: number, backlog: number) => number;
  readonly ioctl: (fd: number, request: number, argument: number) => number;
  /** `syscall(number, ...)`: koffi takes each variadic argument's type before its value. */
  readonly syscall: (number: number, ...typedArguments: unknown[]) => number;
}

let libc: Libc | undefined;
let ownNamespace: number | undefined;

/**
 * Opens the network namespace of `pid`, refusing the server's own (a sandbox
 * always has its own: a pid that came back as another process's would show
 * the host's).
 */
function openSandboxNamespace(pid: number): number {
  // Opened once, while this thread is in the server's own namespace.
  ownNamespace ??= openSync("/proc/thread-self/ns/net", "r");
  const fd = openSync(`/proc/${pid}/ns/net`, "r");
  const own = fstatSync(ownNamespace);
  const target = fstatSync(fd);
  if (target.ino === own.ino && target.dev === own.dev) {
    closeSync(fd);
    throw new RuntimeError("SANDBOX_FAILED", "Sandbox network: the process is not in a namespace of its own");
  }
  return fd;
}

function loadLibc(): Libc {
  if (libc) return libc;
  const lib = koffi.load("libc.so.6");
  libc = {
    setns: lib.func("setns", "int", ["int", "int"]),
    socket: lib.func("socket", "int", ["int", "int", "int"]),
    setsockopt: lib.func("setsockopt", "int", ["int", "int", "int", "const uint8_t *", "uint32_t"]),
    bind: lib.func("bind", "int", ["int", "const uint8_t *", "uint32_t"]),
    listen: lib.func("listen", "int", ["int", "int"]),
    ioctl: lib.func("ioctl", "int", ["int", "unsigned long", "int"]),
    syscall: lib.func("long syscall(long number, ...)"),
  };
  return libc;
}

function failed(what: string): RuntimeError {
  return new RuntimeError("SANDBOX_FAILED", `Sandbox network: ${what} failed (errno ${koffi.errno()})`);
}

/**
 * The `setns` method: `count` TCP sockets created in the network namespace
 * of `pid`. The main thread is in that namespace only between two `setns`
 * calls, with no JavaScript or I/O in between; should the return fail, the
 * process aborts rather than go on making its sockets inside a sandbox.
 */
function createdInNamespace(pid: number, count: number): number[] {
  const c = loadLibc();
  const target = openSandboxNamespace(pid);
  const fds: number[] = [];
  try {
    if (c.setns(target, CLONE_NEWNET) !== 0) throw failed("entering the namespace");
    try {
      for (let i = 0; i < count; i++) {
        const fd = c.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) break;
        fds.push(fd);
      }
    } finally {
      if (c.setns(ownNamespace!, CLONE_NEWNET) !== 0) {
        process.stderr.write("agent-runtime: cannot return to the server's network namespace; aborting\n");
        process.abort();
      }
    }
    if (fds.length < count) throw failed("socket()");
    return fds;
  } catch (error) {
    for (const fd of fds) closeSync(fd);
    throw error;
  } finally {
    closeSync(target);
  }
}

/** Binds the socket `fd` to the route's address and port, and listens. */
function bindAndListen(fd: number, route: SandboxRoute): void {
  const c = loadLibc();
  // Bound even if bwrap has not yet brought the sandbox's loopback up.
  const on = Buffer.alloc(4);
  on.writeInt32LE(1);
  if (c.setsockopt(fd, IPPROTO_IP, IP_FREEBIND, on, on.length) !== 0) throw failed("IP_FREEBIND");
  const address = sockaddrIn(route.address, route.port);
  if (c.bind(fd, address, address.length) !== 0) throw failed(`bind(${route.address}:${route.port})`);
  if (c.listen(fd, LISTEN_BACKLOG) !== 0) throw failed("listen()");
}

/** `struct sockaddr_in` of an IPv4 address and port. */
function sockaddrIn(address: string, port: number): Buffer {
  const buffer = Buffer.alloc(16);
  buffer.writeUInt16LE(AF_INET, 0);
  buffer.writeUInt16BE(port, 2);
  Buffer.from(address.split(".").map(Number)).copy(buffer, 4);
  return buffer;
}

/**
 * The helper, run by `node -e` inside the namespaces with koffi's path and a
 * count: creates that many TCP sockets, prints their descriptor numbers on
 * one line, and exits when its stdin closes.
 */
const HELPER_SOURCE = `
const libc = require(process.argv[1]).load("libc.so.6");
const socket = libc.func("int socket(int, int, int)");
const fds = [];
for (let i = 0; i < Number(process.argv[2]); i++) {
  const fd = socket(${AF_INET}, ${SOCK_STREAM}, 0);
  if (fd < 0) { process.stderr.write("socket() failed"); process.exit(3); }
  fds.push(fd);
}
process.stdout.write(fds.join(" ") + "\\n");
process.stdin.on("end", () => process.exit(0)).resume();
`;

/**
 * The `helper` method (see `ListenerMethod`): `count` TCP sockets created in
 * the network namespace of `pid` by a helper, copied into this process.
 */
async function createdByHelper(pid: number, count: number, hostUid: number): Promise<number[]> {
  const nsenter = findNsenter();
  if (!nsenter) throw new RuntimeError("SANDBOX_FAILED", "Sandbox network: nsenter (util-linux) is missing");
  const net = openSandboxNamespace(pid);
  let user = -1;
  let helper: ReturnType<typeof spawn>;
  try {
    user = loadLibc().ioctl(net, NS_GET_USERNS, 0);
    if (user < 0) throw failed("finding the namespace's owner");
    helper = spawn(
      nsenter,
      ["--user=/proc/self/fd/3", "--net=/proc/self/fd/4", "--preserve-credentials", "--"].concat([
        process.execPath,
        "-e",
        HELPER_SOURCE,
        KOFFI_PATH,
        String(count),
      ]),
      {
        cwd: "/",
        env: {},
        stdio: ["pipe", "pipe", "pipe", user, net],
        ...(hostUid === process.getuid?.() ? {} : { uid: hostUid, gid: hostUid }),
      },
    );
  } finally {
    closeSync(net);
    if (user >= 0) closeSync(user);
  }
  try {
    const numbers = await firstLine(helper);
    if (numbers.length !== count || numbers.some((number) => !Number.isInteger(number))) {
      throw new RuntimeError(
        "SANDBOX_FAILED",
        "Sandbox network: the listener helper printed no socket numbers",
      );
    }
    const c = loadLibc();
    const pidfd = c.syscall(SYS_PIDFD_OPEN, "int", helper.pid!, "int", 0);
    if (pidfd < 0) throw failed("pidfd_open");
    const fds: number[] = [];
    try {
      for (const number of numbers) {
        const fd = c.syscall(SYS_PIDFD_GETFD, "int", pidfd, "int", number, "int", 0);
        if (fd < 0) throw failed("pidfd_getfd");
        fds.push(fd);
      }
    } catch (error) {
      for (const fd of fds) closeSync(fd);
      throw error;
    } finally {
      closeSync(pidfd);
    }
    return fds;
  } finally {
    helper.stdin!.end();
    helper.kill("SIGKILL");
  }
}

/** The descriptor numbers the helper prints; throws `SANDBOX_FAILED` when it fails or takes too long. */
function firstLine(helper: ReturnType<typeof spawn>): Promise<number[]> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => fail("timed out"), HELPER_TIMEOUT_MS);
    function fail(reason: string) {
      clearTimeout(timer);
      reject(new RuntimeError("SANDBOX_FAILED", `Sandbox network: the listener helper failed (${reason})`));
    }
    helper.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_HELPER_OUTPUT);
    });
    helper.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout = (stdout + chunk).slice(0, MAX_HELPER_OUTPUT);
      const end = stdout.indexOf("\n");
      if (end === -1) return;
      clearTimeout(timer);
      resolve(stdout.slice(0, end).split(" ").map(Number));
    });
    helper.once("error", (error) => fail(errorMessage(error)));
    helper.once("close", (code, signal) => fail(stderr.trim() || `exit ${code ?? signal}`));
  });
}
