#!/usr/bin/env node
import { spawn } from "node:child_process";
import { connect, createServer, type Server, type Socket } from "node:net";
import { pathToFileURL } from "node:url";

/**
 * `node net-bridge.js <proxy-socket> <listen-host:port>=<target-host:port>... -- <command...>`
 *
 * Runs inside a sandbox that has its own network namespace (only loopback).
 * It listens on each loopback address and tunnels every connection, with an
 * HTTP `CONNECT <target>` request, through the host's egress proxy, reached
 * through the Unix socket bind-mounted into the sandbox; the proxy decides
 * what is allowed. Once every listener is up it runs the command with the
 * same stdio and environment, forwards termination signals to it, and exits
 * the way the command exited (same code, or re-raising its signal); a
 * command that is this Node binary running a script is imported into this
 * process instead of spawned.
 *
 * Exit code 126 when the arguments are invalid or a listener cannot start.
 */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"];
/** Largest proxy response head accepted before the tunnel is refused. */
const MAX_HEAD_BYTES = 8192;

interface Route {
  readonly host: string;
  readonly port: number;
  readonly target: string;
}

function parseArgs(argv: readonly string[]): { socketPath: string; routes: Route[]; command: string[] } {
  const separator = argv.indexOf("--");
  const [socketPath, ...specs] = separator === -1 ? argv : argv.slice(0, separator);
  const command = separator === -1 ? [] : argv.slice(separator + 1);
  if (!socketPath || command.length === 0)
    throw new Error("usage: net-bridge <socket> <listen>=<target>... -- <command...>");
  const routes = specs.map((spec) => {
    const match = /^(.+):(\d+)=(.+:\d+)$/.exec(spec);
    if (!match) throw new Error(`invalid route ${spec}`);
    return { host: match[1]!, port: Number(match[2]), target: match[3]! };
  });
  return { socketPath, routes, command };
}

/** Opens a tunnel to `target` through the proxy; destroys `client` when the proxy refuses. */
function tunnel(client: Socket, socketPath: string, target: string): void {
  const upstream = connect(socketPath);
  client.pause();
  const fail = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", fail);
  upstream.on("error", fail);
  upstream.once("connect", () => {
    upstream.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end === -1) {
      if (head.length > MAX_HEAD_BYTES) fail();
      return;
    }
    upstream.off("data", onData);
    if (!/^HTTP\/1\.[01] 200 /.test(head.toString("latin1", 0, end))) return fail();
    const rest = head.subarray(end + 4);
    if (rest.length > 0) client.write(rest);
    upstream.pipe(client);
    client.pipe(upstream);
    client.resume();
  };
  upstream.on("data", onData);
  upstream.once("close", () => client.destroy());
  client.once("close", () => upstream.destroy());
}

function listen(route: Route, socketPath: string): Promise<Server> {
  // No Nagle: streamed model output comes in small chunks that must not wait for ACKs.
  const server = createServer({ noDelay: true }, (client) => tunnel(client, socketPath, route.target));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(route.port, route.host, () => resolve(server));
  });
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
    await Promise.all(parsed.routes.map((route) => listen(route, parsed.socketPath)));
  } catch (error) {
    process.stderr.write(`net-bridge: ${(error as Error).message}\n`);
    process.exit(126);
  }
  const [file, ...args] = parsed.command;
  const script = args[0];
  if (file === process.execPath && script !== undefined && /\.[cm]?js$/.test(script)) {
    // A Node script (the runner, typically) runs in this process: one Node start-up instead of two
    // on every sandbox command. It sees the argv it would have had and ends the process itself.
    process.argv = [process.execPath, script, ...args.slice(1)];
    await import(pathToFileURL(script).href);
    return;
  }
  const child = spawn(file!, args, { stdio: "inherit" });
  for (const signal of FORWARDED_SIGNALS) process.on(signal, () => child.kill(signal));
  child.once("error", (error) => {
    process.stderr.write(`net-bridge: ${error.message}\n`);
    process.exit(127);
  });
  child.once("exit", (code, signal) => {
    if (signal) {
      for (const forwarded of FORWARDED_SIGNALS) process.removeAllListeners(forwarded);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}

await main();
