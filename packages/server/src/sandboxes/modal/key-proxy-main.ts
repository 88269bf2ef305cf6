/*
 * The model key proxy inside a Modal sandbox: a program of its own, bundled
 * into `key-proxy.mjs` beside the runner bundle (packages/runner/scripts/
 * bundle.mjs) and uploaded with it. The provider starts it as root with its
 * configuration (`KeyProxyConfig`, the key included) on stdin, never in an
 * environment variable, an argument or a file. It serves each route with the
 * local sandbox's egress proxy (`createEgressProxy`: the key's header set on
 * the model API paths only, 403 for the endpoint's other paths), and points
 * the routes' host names at itself in `/etc/hosts`. Its own lookups of those
 * names use `/etc/hosts` as the image had it, then DNS.
 *
 * `node key-proxy.mjs` (the launcher) reads the configuration, starts
 * `node key-proxy.mjs serve` detached in a session of its own (so the exec
 * that started it ends and Modal's idle timeout still counts), hands the
 * configuration over on that one's stdin, and once every route listens
 * writes `/etc/hosts` and exits 0 printing `ready <pid>`; else exits 1
 * saying why. The server keeps running until the sandbox stops or the
 * provider kills it (it keeps the launcher's `SANDBOX_MARKER` variable,
 * by which a server taking the sandbox over finds and stops it).
 */
import { spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { closeSync, openSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { createServer, isIP } from "node:net";
import { pathToFileURL } from "node:url";
import { createEgressProxy } from "../local/egress-proxy.js";
import type { SandboxNetworkPolicy } from "../sandbox-provider.js";
import { SANDBOX_MARKER } from "./sandbox-commands.js";

/** What the provider sends on stdin. */
export interface KeyProxyConfig {
  /** The endpoints and the key's headers (`SandboxSpec.network`, without `stallWatch`). */
  readonly policy: Pick<SandboxNetworkPolicy, "allow" | "secrets">;
  /** One listener per endpoint the agent reaches through the proxy. */
  readonly routes: readonly { readonly address: string; readonly port: number; readonly endpoint: string }[];
  /** Host name to loopback address, written into `/etc/hosts`. */
  readonly hosts: Readonly<Record<string, string>>;
}

/** Marks this proxy's lines in `/etc/hosts`, so a later start replaces them. */
const HOSTS_MARK = "# agent-runtime key proxy";
const HOSTS_FILE = "/etc/hosts";
const LOG_FILE = "/run/agent-runtime/key-proxy.log";
const IMAGE_HOSTS_FILE = "/run/agent-runtime/hosts.image";
const MAX_CONFIG_BYTES = 1 << 20;

function readConfig(): KeyProxyConfig {
  const text = readFileSync(0);
  if (text.length > MAX_CONFIG_BYTES) throw new Error("configuration too large");
  const config = JSON.parse(text.toString("utf8")) as KeyProxyConfig;
  if (!config || !Array.isArray(config.routes) || !config.policy || typeof config.hosts !== "object") {
    throw new Error("invalid configuration");
  }
  return config;
}

/**
 * `/etc/hosts` as the image had it: saved (root-only) before this proxy
 * first changed the file, so a later start (a server taking the sandbox
 * over) resolves the names as the first did.
 */
function imageHosts(): string {
  try {
    return readFileSync(IMAGE_HOSTS_FILE, "utf8");
  } catch {
    // Not changed yet.
  }
  let text = "";
  try {
    text = readFileSync(HOSTS_FILE, "utf8");
  } catch {
    // No hosts file: DNS only.
  }
  writeFileSync(IMAGE_HOSTS_FILE, text, { mode: 0o600 });
  return text;
}

/** `hosts` (a hosts file's text) with `names` taken over by `addresses`: listed first, and removed from every other line. */
function hostsWith(hosts: string, addresses: Readonly<Record<string, string>>): string {
  const names = new Set(Object.keys(addresses));
  const kept = hosts.split("\n").flatMap((line) => {
    const [entry, comment] = [
      line.replace(/#.*/, ""),
      line.includes("#") ? line.slice(line.indexOf("#")) : "",
    ];
    const [address, ...entryNames] = entry.trim().split(/\s+/);
    if (!address || entryNames.length === 0) return [line];
    const others = entryNames.filter((name) => !names.has(name.toLowerCase()));
    if (others.length === entryNames.length) return [line];
    return others.length === 0 ? [] : [`${address}\t${others.join(" ")}${comment ? ` ${comment}` : ""}`];
  });
  const ours = Object.entries(addresses).map(([name, address]) => `${address}\t${name}\t${HOSTS_MARK}`);
  return `${[...ours, ...kept].join("\n").replace(/\n*$/, "")}\n`;
}

/** The first address `hosts` (a hosts file's text) gives `name`, of `family` when not 0. */
function fromHosts(
  hosts: string,
  name: string,
  family: number,
): { address: string; family: number } | undefined {
  for (const line of hosts.split("\n")) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (!address || !names.some((entry) => entry.toLowerCase() === name)) continue;
    const found = isIP(address);
    if (found !== 0 && (family === 0 || family === found)) return { address, family: found };
  }
  return undefined;
}

/** The launcher: see the file's comment. */
async function launch(): Promise<void> {
  const config = readConfig();
  const hosts = imageHosts();
  const log = openSync(LOG_FILE, "a", 0o600);
  const server = spawn(process.execPath, [process.argv[1]!, "serve"], {
    detached: true,
    stdio: ["pipe", "pipe", log],
    env: { PATH: process.env.PATH ?? "", [SANDBOX_MARKER]: process.env[SANDBOX_MARKER] ?? "" },
  });
  closeSync(log);
  server.stdin!.end(JSON.stringify({ config, hosts }));
  let answer = "";
  server.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    answer += chunk;
  });
  const code = await new Promise<number | null>((resolve) => {
    server.stdout!.once("end", () => resolve(null));
    server.once("exit", (exitCode) => resolve(exitCode ?? 1));
  });
  if (!answer.startsWith("ready") || code !== null) {
    process.stderr.write(`the model key proxy did not start: ${answer.trim() || `exit code ${code}`}\n`);
    server.kill("SIGKILL");
    process.exit(1);
  }
  // Rewritten in place: the file may be a mount point.
  writeFileSync(HOSTS_FILE, hostsWith(hosts, config.hosts), { mode: 0o644 });
  server.unref();
  process.stdout.write(`ready ${server.pid}\n`);
}

/** The server: serves the routes until killed. */
async function serve(): Promise<void> {
  const { config, hosts } = JSON.parse(readFileSync(0, "utf8")) as { config: KeyProxyConfig; hosts: string };
  const dns = new Resolver();
  const proxy = createEgressProxy(
    { allow: config.policy.allow, ...(config.policy.secrets ? { secrets: config.policy.secrets } : {}) },
    async (hostname, { family }) => {
      const name = hostname.toLowerCase();
      const listed = fromHosts(hosts, name, family);
      if (listed) return listed;
      if (family !== 6) {
        const [address] = await dns.resolve4(name).catch((error: unknown) => {
          if (family === 4) throw error;
          return [] as string[];
        });
        if (address) return { address, family: 4 };
      }
      const [address] = await dns.resolve6(name);
      if (!address) throw new Error(`no address for ${name}`);
      return { address, family: 6 };
    },
  );
  try {
    for (const route of config.routes) {
      await new Promise<void>((resolve, reject) => {
        const listener = createServer((socket) => proxy.connect(socket, route.endpoint));
        listener.once("error", reject);
        listener.listen({ host: route.address, port: route.port }, () => resolve());
      });
    }
  } catch (error) {
    process.stdout.write(`error: ${(error as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.end("ready\n");
}

// Only as a program (`node key-proxy.mjs`): importing the module starts nothing.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  (process.argv[2] === "serve" ? serve() : launch()).catch((error: unknown) => {
    process.stderr.write(`the model key proxy failed: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
