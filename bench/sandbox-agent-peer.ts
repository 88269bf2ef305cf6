import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * Rivet's sandbox-agent, the peer `npm run bench:peers` runs beside Agent
 * Runtime: its server (a Rust binary) with Zed's Claude Code ACP adapter,
 * installed from npm into a folder of the bench's own at bench time (never
 * a dependency of the product), driven over its ACP-over-HTTP API
 * (`POST /v1/acp/<server>` JSON-RPC, `GET` the same path for the
 * server-sent events), the way its TypeScript SDK does: one adapter process
 * per agent, shared by every session, each session one Claude Code process.
 */
export const SANDBOX_AGENT_VERSION = "0.4.2";
const PACKAGES = [
  `sandbox-agent@${SANDBOX_AGENT_VERSION}`,
  `@sandbox-agent/cli-linux-x64@${SANDBOX_AGENT_VERSION}`,
  "@zed-industries/claude-agent-acp",
];

export interface SandboxAgentInstall {
  readonly binary: string;
  readonly adapterEntry: string;
  readonly adapterVersion: string;
}

/** `npm install --prefix <dir>` of the server and the adapter (skipped when `dir` already holds them). */
export async function installSandboxAgent(dir: string): Promise<SandboxAgentInstall> {
  const modules = join(dir, "node_modules");
  const binary = join(modules, "@sandbox-agent", "cli-linux-x64", "bin", "sandbox-agent");
  const adapterDir = join(modules, "@zed-industries", "claude-agent-acp");
  const installed = await readFile(join(modules, "sandbox-agent", "package.json"), "utf8").catch(() => "");
  if (!installed.includes(`"version": "${SANDBOX_AGENT_VERSION}"`)) {
    await mkdir(dir, { recursive: true });
    await promisify(execFile)("npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", ...PACKAGES], {
      maxBuffer: 16 * 1024 * 1024,
    });
  }
  // Its postinstall (`chmod +x`) does not run where install scripts are not allowed.
  await chmod(binary, 0o755);
  const adapter = JSON.parse(await readFile(join(adapterDir, "package.json"), "utf8")) as {
    version: string;
    bin: Record<string, string>;
  };
  return {
    binary,
    adapterEntry: join(adapterDir, adapter.bin["claude-agent-acp"] ?? "dist/index.js"),
    adapterVersion: adapter.version,
  };
}

/** A text delta as the client saw it. */
export interface PeerDelta {
  readonly at: number;
  readonly text: string;
}

export interface SandboxAgentServer {
  readonly url: string;
  readonly process: ChildProcess;
  /** Opens the shared adapter (its SDK's live connection for `claude`): `initialize` on a new ACP server. */
  connect(): Promise<AcpConnection>;
  stop(): Promise<void>;
}

/**
 * Starts `sandbox-agent server` with its data in `dataDir`: our Claude Code
 * as its `claude` (and `CLAUDE_CODE_EXECUTABLE`), the adapter installed as
 * its `claude` agent process, the model at `modelUrl`, `IS_SANDBOX=1` (Claude
 * Code as root), and the same switches that keep Claude Code off the network
 * that Agent Runtime's runner sets.
 */
export async function startSandboxAgent(options: {
  install: SandboxAgentInstall;
  dataDir: string;
  modelUrl: string;
  claudeExecutable: string;
  now: () => number;
}): Promise<SandboxAgentServer> {
  const { install, dataDir } = options;
  const home = join(dataDir, "home");
  const bin = join(dataDir, "data", "sandbox-agent", "bin");
  await mkdir(join(bin, "agent_processes"), { recursive: true });
  await mkdir(home, { recursive: true });
  await symlink(options.claudeExecutable, join(bin, "claude"));
  const launcher = join(bin, "agent_processes", "claude-acp");
  await writeFile(launcher, `#!/bin/sh\nexec "${process.execPath}" "${install.adapterEntry}" "$@"\n`);
  await chmod(launcher, 0o755);
  const port = await freePort();
  const child = spawn(install.binary, ["server", "--no-token", "--no-telemetry", "--port", String(port)], {
    cwd: dataDir,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      XDG_DATA_HOME: join(dataDir, "data"),
      XDG_STATE_HOME: join(dataDir, "state"),
      IS_SANDBOX: "1",
      CLAUDE_CODE_EXECUTABLE: options.claudeExecutable,
      ANTHROPIC_BASE_URL: options.modelUrl,
      ANTHROPIC_API_KEY: "bench-key",
      DISABLE_AUTOUPDATER: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_ERROR_REPORTING: "1",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-8_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sandbox-agent exited before it was healthy:\n${stderr}`);
    const healthy = await fetch(`${url}/v1/health`)
      .then((response) => response.ok)
      .catch(() => false);
    if (healthy) break;
    if (Date.now() > deadline) throw new Error(`sandbox-agent did not become healthy:\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let servers = 0;
  return {
    url,
    process: child,
    async connect() {
      const connection = new AcpConnection(`${url}/v1/acp/bench-${++servers}`, options.now);
      await connection.open();
      return connection;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      // Its adapter and Claude Code processes are in its process group.
      process.kill(-child.pid!, "SIGTERM");
      await exited;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    },
  };
}

interface JsonRpcMessage {
  readonly id?: number | string;
  readonly method?: string;
  readonly params?: { sessionId?: string; update?: { sessionUpdate?: string; content?: { text?: string } } };
  readonly result?: unknown;
  readonly error?: unknown;
}

/** One ACP server of sandbox-agent (one adapter process): requests by POST, updates from its event stream. */
export class AcpConnection {
  private nextId = 1;
  private readonly listeners = new Map<string, (delta: PeerDelta) => void>();
  /** Waiters for a response to come through the event stream, by request id. */
  private readonly streamed = new Map<number | string, () => void>();
  private readonly abort = new AbortController();
  private readonly url: string;
  private readonly now: () => number;

  constructor(url: string, now: () => number) {
    this.url = url;
    this.now = now;
  }

  async open(): Promise<void> {
    await this.request("initialize", {
      protocolVersion: 1,
      clientCapabilities: {},
      clientInfo: { name: "agent-runtime-bench", version: "1" },
    });
    const response = await fetch(this.url, {
      headers: { accept: "text/event-stream" },
      signal: this.abort.signal,
    });
    if (!response.ok || !response.body) throw new Error(`sandbox-agent events: HTTP ${response.status}`);
    void this.read(response.body).catch(() => undefined);
  }

  /** A new session (sandbox-agent starts its Claude Code here); returns its id. */
  async newSession(cwd: string): Promise<string> {
    const result = (await this.request("session/new", { cwd, mcpServers: [] })) as { sessionId: string };
    return result.sessionId;
  }

  /** Sends `text` to the session; `onDelta` gets each non-empty text chunk; resolves with the turn's result when it ends. */
  async prompt(sessionId: string, text: string, onDelta: (delta: PeerDelta) => void): Promise<string> {
    this.listeners.set(sessionId, onDelta);
    try {
      // The POST's answer may overtake the last updates on the event stream, which carries the answer too.
      const id = this.nextId;
      const inStream = new Promise<void>((resolve) => this.streamed.set(id, resolve));
      const result = await this.request("session/prompt", { sessionId, prompt: [{ type: "text", text }] });
      await inStream;
      return JSON.stringify(result).slice(0, 300);
    } finally {
      this.listeners.delete(sessionId);
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async request(method: string, params: unknown): Promise<unknown> {
    const response = await fetch(this.url + (method === "initialize" ? "?agent=claude" : ""), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: this.nextId++, method, params }),
    });
    const body = await response.text();
    if (!response.ok)
      throw new Error(`sandbox-agent ${method}: HTTP ${response.status} ${body.slice(0, 500)}`);
    const message = JSON.parse(body) as JsonRpcMessage;
    if (message.error)
      throw new Error(`sandbox-agent ${method}: ${JSON.stringify(message.error).slice(0, 500)}`);
    return message.result;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of body) {
      const at = this.now();
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (data !== "") this.dispatch(JSON.parse(data) as JsonRpcMessage, at);
      }
    }
  }

  private dispatch(message: JsonRpcMessage, at: number): void {
    if (message.id !== undefined && message.method === undefined) {
      this.streamed.get(message.id)?.();
      this.streamed.delete(message.id);
      return;
    }
    const update = message.params?.update;
    if (message.method !== "session/update" || update?.sessionUpdate !== "agent_message_chunk") return;
    const text = update.content?.text ?? "";
    if (text === "") return;
    this.listeners.get(message.params!.sessionId ?? "")?.({ at, text });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
