import { randomUUID } from "node:crypto";
import { agentProfileSchema, type RunnerOutput, runnerOutputSchema } from "@agent-runtime/protocol";
import type { ModelEndpoint } from "../agents/agent-architecture.js";
import { createClaudeAgentSdkArchitecture } from "../agents/claude-agent-sdk/claude-agent-sdk-architecture.js";
import { sandboxEgressFor } from "../core/model-egress.js";
import { errorMessage } from "../errors.js";
import type { ModalSandboxOptions } from "../sandboxes/modal/modal-sandbox-options.js";
import { createModalSandboxProvider } from "../sandboxes/modal/modal-sandbox-provider.js";
import type { Sandbox, SandboxProcess } from "../sandboxes/sandbox-provider.js";

export interface ModalDoctorOptions {
  /** The provider's options, as `serve --sandbox modal` would use them. */
  readonly modal: ModalSandboxOptions;
  /** The model the agent's turn talks to (from inside the sandbox: it must be reachable from Modal). */
  readonly model: ModelEndpoint;
  /** What the turn asks. @default "Reply with one short sentence." */
  readonly prompt?: string;
  /**
   * The egress `serve --egress` would give sessions: `restricted` starts the
   * sandbox with the model's network policy (Modal's allow-lists, the key in
   * the sandbox's key proxy, a placeholder for the agent); `open` gives the
   * agent the key. @default "restricted"
   */
  readonly egress?: "restricted" | "open";
  /** How long the turn may take. @default 300000 */
  readonly turnTimeoutMs?: number;
  /** Receives each line of the report. */
  readonly write: (line: string) => void;
}

/** Longest runner line the doctor reads. */
const MAX_LINE_BYTES = 1024 * 1024;

/**
 * `agent-runtime doctor --sandbox modal`: checks, one step at a time and
 * each with its duration, that sessions can run on Modal: the credentials,
 * the App, the image build and a sandbox start (with the runner upload),
 * the runner's start, one Claude Code turn against `model`, and the
 * clean-up. Stops at the first failing step, saying why; the sandbox it
 * started is removed whatever happens. With `egress` restricted (the
 * default, as `serve`'s) the sandbox starts with the model's network policy
 * and its key proxy, and the turn goes through that proxy; with `open` the
 * agent gets the model key in its environment. Resolves true when every
 * step passed. Never throws.
 */
export async function runModalDoctor(options: ModalDoctorOptions): Promise<boolean> {
  const { write } = options;
  let ok = true;
  const step = async <T>(name: string, run: () => Promise<T>, detail?: (value: T) => string): Promise<T> => {
    const started = performance.now();
    try {
      const value = await run();
      const extra = detail ? `: ${detail(value)}` : "";
      write(`ok   ${name} (${Math.round(performance.now() - started)} ms)${extra}`);
      return value;
    } catch (error) {
      ok = false;
      write(`FAIL ${name} (${Math.round(performance.now() - started)} ms): ${errorMessage(error)}`);
      throw new DoctorStop();
    }
  };

  const name = `agent-runtime-doctor-${randomUUID().slice(0, 8)}`;
  let sandbox: Sandbox | undefined;
  let provider: ReturnType<typeof createModalSandboxProvider> | undefined;
  try {
    provider = await step("options and credentials", async () => {
      const created = createModalSandboxProvider(options.modal);
      if (!options.modal.tokenId || !options.modal.tokenSecret) {
        throw new Error(
          "set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (create a token at https://modal.com/settings/tokens)",
        );
      }
      return created;
    });
    const ready = provider;
    await step("Modal App (one authenticated call)", () => ready.check());
    write("...  building the image (minutes on first use, then cached) and starting a sandbox");
    const architecture = createClaudeAgentSdkArchitecture();
    const egress =
      (options.egress ?? "restricted") === "restricted"
        ? sandboxEgressFor(
            options.model,
            architecture,
            agentProfileSchema.parse({ id: "doctor", name: "Doctor" }),
          )
        : undefined;
    sandbox = await step(
      egress
        ? "image and sandbox, runner uploaded, model key proxy started"
        : "image and sandbox, runner uploaded",
      () => ready.create({ name, ...(egress ? { network: egress.network } : {}) }),
      (value) => value.id,
    );
    const running = sandbox;
    await step(
      egress
        ? "agent turn (Claude Code in the sandbox, through the key proxy)"
        : "agent turn (Claude Code in the sandbox)",
      () => runTurn(running, options, egress?.agentEndpoint ?? options.model),
      (reply) => JSON.stringify(reply.slice(0, 200)),
    ).catch((error: unknown) => {
      if (isLoopback(options.model.baseUrl)) {
        write(
          `hint the model is at ${options.model.baseUrl}: a Modal sandbox cannot reach this machine's loopback; set ANTHROPIC_BASE_URL to an address Modal can reach`,
        );
      }
      throw error;
    });
  } catch (error) {
    ok = false;
    if (!(error instanceof DoctorStop)) write(`FAIL ${errorMessage(error)}`);
  }
  if (sandbox && provider) {
    const created = provider;
    await step("clean up (sandbox removed)", () => created.remove(name)).catch(() => undefined);
  }
  write(
    ok
      ? "Modal is ready for agent-runtime serve --sandbox modal"
      : "Modal is not ready: see the failed step above",
  );
  return ok;
}

class DoctorStop extends Error {}

/** Starts the runner with the sandbox's command and runs one turn; resolves with the agent's answer. */
async function runTurn(
  sandbox: Sandbox,
  options: ModalDoctorOptions,
  endpoint: ModelEndpoint,
): Promise<string> {
  const architecture = createClaudeAgentSdkArchitecture();
  const input = {
    profile: agentProfileSchema.parse({ id: "doctor", name: "Doctor" }),
    sessionOptions: {},
    workspaceDir: sandbox.workspaceDir,
    homeDir: sandbox.homeDir,
    endpoint,
    permissions: { mode: "bypass" as const },
  };
  const configPath = `${sandbox.homeDir}/.agent-runtime/doctor-runner.json`;
  await sandbox.writeFiles([
    { path: configPath, content: JSON.stringify(architecture.runnerConfig(input)), readOnly: true },
  ]);
  const runner = sandbox.exec([...sandbox.runnerCommand, configPath], { env: architecture.runnerEnv(input) });
  try {
    const lines = runnerLines(runner);
    const timeout = AbortSignal.timeout(options.turnTimeoutMs ?? 300_000);
    const ready = await next(lines, timeout, (line) => line.type === "ready" || line.type === "fatal");
    if (ready.type === "fatal") throw new Error(`the runner stopped: ${ready.message}`);
    runner.stdin.write(
      `${JSON.stringify({ type: "message", turnId: "doctor", content: options.prompt ?? "Reply with one short sentence." })}\n`,
    );
    let answer = "";
    for (;;) {
      const line = await next(lines, timeout, () => true);
      if (line.type === "fatal") throw new Error(`the runner stopped: ${line.message}`);
      if (line.type === "agent") {
        const message = line.message as { type?: string; result?: unknown };
        if (message.type === "result" && typeof message.result === "string") answer = message.result;
      }
      if (line.type === "turn_end") {
        if (line.stopReason !== "end_turn") {
          throw new Error(`the turn ended with ${line.stopReason}${line.error ? `: ${line.error}` : ""}`);
        }
        return answer;
      }
    }
  } finally {
    runner.stdin.end(`${JSON.stringify({ type: "shutdown" })}\n`);
    runner.kill("SIGKILL");
  }
}

/**
 * The runner's stdout as validated lines (a line over `MAX_LINE_BYTES` ends
 * the read: the sandbox's output is never buffered past it), and why it
 * stopped when it did.
 */
function runnerLines(runner: SandboxProcess): AsyncIterator<RunnerOutput> {
  let stderr = "";
  runner.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  return (async function* () {
    let pending = Buffer.alloc(0);
    for await (const chunk of runner.stdout as AsyncIterable<Buffer>) {
      pending = Buffer.concat([pending, chunk]);
      for (let end = pending.indexOf(10); end !== -1; end = pending.indexOf(10)) {
        const line = parseLine(pending.subarray(0, end).toString("utf8"));
        pending = pending.subarray(end + 1);
        if (line) yield line;
      }
      if (pending.length > MAX_LINE_BYTES) throw new Error("the runner sent a line over 1 MiB");
    }
    const status = await runner.exited;
    throw new Error(
      `the runner exited (code ${status.code})${stderr ? `: ${stderr.trim().slice(-1000)}` : ""}`,
    );
  })();
}

/** A runner line, or undefined for a line of a type this doctor does not know; throws for one that is not JSON. */
function parseLine(text: string): RunnerOutput | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the runner sent a line that is not JSON: ${text.slice(0, 200)}`);
  }
  const line = runnerOutputSchema.safeParse(parsed);
  return line.success ? line.data : undefined;
}

async function next(
  lines: AsyncIterator<RunnerOutput>,
  signal: AbortSignal,
  wanted: (line: RunnerOutput) => boolean,
): Promise<RunnerOutput> {
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(new Error("no answer in time"));
    if (signal.aborted) fail();
    signal.addEventListener("abort", fail, { once: true });
  });
  for (;;) {
    const result = await Promise.race([lines.next(), aborted]);
    if (result.done) throw new Error("the runner closed its output");
    if (wanted(result.value)) return result.value;
  }
}

function isLoopback(baseUrl: string | undefined): boolean {
  if (!baseUrl) return false;
  try {
    const host = new URL(baseUrl).hostname;
    return host === "localhost" || host === "::1" || host === "[::1]" || host.startsWith("127.");
  } catch {
    return false;
  }
}
