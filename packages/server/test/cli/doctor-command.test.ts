import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeModalApi, Status, startFakeModalApi } from "../sandboxes/modal-grpc-fake.js";

const SERVER_DIR = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(SERVER_DIR, "src/cli/main.ts");

/** Runs `agent-runtime <args>` from the sources until it exits (or 60 s pass); its exit code and output. */
function cli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=@agent-runtime/source", CLI, ...args],
    { cwd: SERVER_DIR, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: "pipe" },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

/*
 * The `doctor` command as a user runs it: options from flags and the
 * environment reach the provider, the real SDK reaches Modal's API (here the
 * in-process fake, through MODAL_SERVER_URL), each step is printed and the
 * exit code says whether Modal is ready.
 */
describe("agent-runtime doctor --sandbox modal", () => {
  let api: FakeModalApi;
  beforeAll(async () => {
    api = await startFakeModalApi({ tokenId: "ak-cli", tokenSecret: "as-cli" });
  });
  afterAll(async () => {
    await api?.close();
  });

  it("fails the first step without a token, exit code 1", async () => {
    const { code, output } = await cli(["doctor", "--sandbox", "modal"], {});
    expect(code, output).toBe(1);
    expect(output).toMatch(
      /^FAIL options and credentials \(\d+ ms\): set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET/m,
    );
  });

  it("refuses invalid Modal options, naming them", async () => {
    const { code, output } = await cli(["doctor", "--modal-timeout", "1.5"], {
      MODAL_TOKEN_ID: "ak-cli",
      MODAL_TOKEN_SECRET: "as-cli",
    });
    expect(code, output).toBe(1);
    expect(output).toMatch(/^FAIL options and credentials .*Invalid Modal sandbox options[\s\S]*timeoutMs/m);
  });

  it("passes options from the environment to Modal through the SDK, and reports a rejected token at the App step", async () => {
    const env = { MODAL_SERVER_URL: api.url, MODAL_TOKEN_ID: "ak-cli", AGENT_RUNTIME_MODAL_APP: "from-env" };
    const rejected = await cli(["doctor"], { ...env, MODAL_TOKEN_SECRET: "as-wrong" });
    expect(rejected.code, rejected.output).toBe(1);
    expect(rejected.output).toMatch(/^ok {3}options and credentials/m);
    expect(rejected.output).toMatch(/^FAIL Modal App .*Token ID\/secret is invalid.*check MODAL_TOKEN_ID/m);
    expect(rejected.output).not.toContain("as-wrong");

    // The image build fails, so the run stops before a sandbox would run commands on this machine.
    api.failNext.set("ImageGetOrCreate", Status.INVALID_ARGUMENT);
    const accepted = await cli(["doctor"], { ...env, MODAL_TOKEN_SECRET: "as-cli" });
    expect(accepted.code, accepted.output).toBe(1);
    expect(accepted.output).toMatch(
      /^FAIL image and sandbox, runner uploaded, model key proxy started .*ImageGetOrCreate failed/m,
    );
    expect(accepted.output).toMatch(/^ok {3}Modal App \(one authenticated call\) \(\d+ ms\)/m);
    const apps = api.calls
      .filter((call) => call.method === "AppGetOrCreate")
      .map((call) => call.request.appName);
    expect(apps).toEqual(["from-env"]);
  });
});

describe("agent-runtime serve --sandbox modal", () => {
  it("hands the --modal-* options to the provider: an invalid one stops the server, naming it", async () => {
    const { code, output } = await cli(
      [
        "serve",
        "--port",
        "0",
        "--sandbox",
        "modal",
        "--modal-memory",
        "64",
        "--data-dir",
        join(tmpdir(), "agent-runtime-cli-modal-unused"),
      ],
      { MODAL_TOKEN_ID: "ak-cli", MODAL_TOKEN_SECRET: "as-cli" },
    );
    expect(code, output).not.toBe(0);
    expect(output).toMatch(/Invalid Modal sandbox options[\s\S]*memoryMiB/);
  });
});
