import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SERVER_DIR = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(SERVER_DIR, "src/cli/main.ts");

/** Runs `agent-runtime serve` from the sources until it exits (or 30 s pass); its exit code and output. */
function serve(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=@agent-runtime/source", CLI, "serve", "--port", "0", ...args],
    { cwd: SERVER_DIR, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: "pipe" },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

/** Issue 15: a set-but-empty database setting stops the server at once, saying which setting. */
describe("serve with an empty database setting", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-cli-"));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("exits non-zero naming DATABASE_URL when it is set but empty", async () => {
    const { code, output } = await serve(["--data-dir", dataDir], { DATABASE_URL: "" });
    expect(code, output).not.toBe(0);
    expect(output).toMatch(/DATABASE_URL.*empty/);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it("exits non-zero naming --database when it is given empty", async () => {
    const { code, output } = await serve(["--data-dir", dataDir, "--database", ""], {});
    expect(code, output).not.toBe(0);
    expect(output).toMatch(/--database.*empty/);
  });

  it("exits non-zero naming the scheme of a URL it cannot use", async () => {
    const { code, output } = await serve(["--data-dir", dataDir], { DATABASE_URL: "mysql://db/runtime" });
    expect(code, output).not.toBe(0);
    expect(output).toMatch(/DATABASE_URL.*mysql:/);
  });
});
