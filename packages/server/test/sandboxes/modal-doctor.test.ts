import { readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runModalDoctor } from "../../src/cli/modal-doctor.js";
import { FakeModal } from "./modal-fake-client.js";

/*
 * `agent-runtime doctor --sandbox modal` against the fake Modal seam, whose
 * sandboxes run on this machine (each in a mount namespace of its own, its
 * runner folder holding what the image's layers install), so every step is
 * real but Modal's cloud: the bundle upload, the runner's start and a real
 * Claude Code turn against the mock model. Needs root, like the fake's
 * containers.
 */
const RUNNER_DIR = "/opt/agent-runtime/runner";
const modules = fileURLToPath(new URL("../../../../node_modules/", import.meta.url));
const manifest = JSON.parse(
  readFileSync(
    fileURLToPath(new URL("../../../runner/dist/bundle/runner-bundle.json", import.meta.url)),
    "utf8",
  ),
) as { packages: Record<string, string> };

const isRoot = process.getuid?.() === 0;
describe.skipIf(!isRoot)("agent-runtime doctor --sandbox modal (fake Modal, real runner and agent)", () => {
  let dir: string;
  let model: MockModel;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "modal-doctor-"));
    await chmod(dir, 0o755);
    for (const path of [join(dir, "workspace"), join(dir, "home"), RUNNER_DIR, "/run/agent-runtime"]) {
      await mkdir(path, { recursive: true });
    }
    model = await startMockModel({
      script: {
        rules: [{ name: "doctor", match: { prompt: "short sentence" }, replies: ["All systems go."] }],
      },
    });
  });

  afterAll(async () => {
    await model?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    // The shared mount points (/run/agent-runtime, RUNNER_DIR) stay: removing one would detach the bind mounts on it that other suites' sandboxes hold.
  });

  let fakes = 0;
  const fakeModal = () =>
    new FakeModal({
      runLocally: true,
      containers: {
        dir: join(dir, `containers-${++fakes}`),
        folders: [
          { path: join(dir, "workspace"), uid: 1000, mode: 0o755 },
          { path: join(dir, "home"), uid: 1000, mode: 0o755 },
          {
            path: RUNNER_DIR,
            uid: 0,
            mode: 0o755,
            links: Object.fromEntries(
              Object.keys(manifest.packages).map((name) => [`node_modules/${name}`, join(modules, name)]),
            ),
          },
          { path: "/run/agent-runtime", uid: 0, mode: 0o700 },
        ],
        // The model's name, as the image resolves it (on Modal: DNS); the key proxy takes it over.
        files: { "/etc/hosts": "127.0.0.1\tlocalhost\n127.0.0.1\tmodel.test\n" },
      },
    });
  /** The mock model under a host name, as a restricted sandbox needs it. */
  const modelByName = () => model.url.replace("127.0.0.1", "model.test");
  const modalOptions = (modal: FakeModal) => ({
    tokenId: "ak-test",
    tokenSecret: "as-test",
    workspaceDir: join(dir, "workspace"),
    homeDir: join(dir, "home"),
    createClient: modal.factory,
  });

  it("prints each step with its timing, runs one agent turn through the key proxy and removes its sandbox", async () => {
    const modal = fakeModal();
    const lines: string[] = [];
    const requests = model.requests.length;
    const ok = await runModalDoctor({
      modal: modalOptions(modal),
      model: { baseUrl: modelByName(), apiKey: "sk-doctor" },
      write: (line) => lines.push(line),
    });
    expect(ok, lines.join("\n")).toBe(true);
    const steps = lines.filter((line) => /^(ok|FAIL) /.test(line));
    expect(steps.map((line) => line.replace(/ \(\d+ ms\).*$/, ""))).toEqual([
      "ok   options and credentials",
      "ok   Modal App (one authenticated call)",
      "ok   image and sandbox, runner uploaded, model key proxy started",
      "ok   agent turn (Claude Code in the sandbox, through the key proxy)",
      "ok   clean up (sandbox removed)",
    ]);
    expect(lines.find((line) => line.startsWith("ok   agent turn"))).toContain('"All systems go."');
    expect(lines.at(-1)).toBe("Modal is ready for agent-runtime serve --sandbox modal");
    expect(modal.ensureAppCalls).toEqual(["agent-runtime"]);
    expect(modal.createRequests).toHaveLength(1);
    expect(modal.createRequests[0]!.params.outboundDomainAllowlist).toEqual(["model.test"]);
    // The key went only to the key proxy, on its stdin: in no command's arguments or environment.
    expect(JSON.stringify(modal.execCalls.map((call) => [call.argv, call.params]))).not.toContain(
      "sk-doctor",
    );
    expect(modal.terminateCalls).toHaveLength(1);
    expect(modal.running.size).toBe(0);
    expect(model.requests.length).toBeGreaterThan(requests);
  });

  it("with --egress open, gives the agent the key and runs the turn directly", async () => {
    const modal = fakeModal();
    const lines: string[] = [];
    const ok = await runModalDoctor({
      modal: modalOptions(modal),
      model: { baseUrl: model.url, apiKey: "sk-doctor" },
      egress: "open",
      write: (line) => lines.push(line),
    });
    expect(ok, lines.join("\n")).toBe(true);
    expect(
      lines.filter((line) => line.startsWith("ok   ")).map((line) => line.replace(/ \(\d+ ms\).*$/, "")),
    ).toContain("ok   agent turn (Claude Code in the sandbox)");
    expect(modal.createRequests[0]!.params).not.toHaveProperty("outboundDomainAllowlist");
  });

  it("refuses a model on loopback with restricted egress, at the sandbox step, saying why", async () => {
    const modal = fakeModal();
    const lines: string[] = [];
    const ok = await runModalDoctor({
      modal: modalOptions(modal),
      model: { baseUrl: "http://127.0.0.1:9", apiKey: "sk-doctor" },
      write: (line) => lines.push(line),
    });
    expect(ok).toBe(false);
    expect(lines.find((line) => line.startsWith("FAIL "))).toMatch(
      /^FAIL image and sandbox, runner uploaded, model key proxy started .*loopback address, which on Modal is the sandbox itself/,
    );
    expect(modal.createRequests).toEqual([]);
  });

  it("stops at the first failing step, says why, and still removes the sandbox", async () => {
    const modal = fakeModal();
    const lines: string[] = [];
    const ok = await runModalDoctor({
      modal: modalOptions(modal),
      // Nothing listens there: the turn fails, and the doctor names the loopback problem.
      model: { baseUrl: "http://127.0.0.1:9", apiKey: "sk-doctor" },
      egress: "open",
      turnTimeoutMs: 15_000,
      write: (line) => lines.push(line),
    });
    expect(ok).toBe(false);
    expect(lines.find((line) => line.startsWith("FAIL "))).toMatch(
      /^FAIL agent turn \(Claude Code in the sandbox\)/,
    );
    expect(lines.some((line) => line.startsWith("hint ") && line.includes("loopback"))).toBe(true);
    expect(lines.some((line) => line.startsWith("ok   clean up"))).toBe(true);
    expect(modal.running.size).toBe(0);
    expect(lines.at(-1)).toBe("Modal is not ready: see the failed step above");
  });

  it("stops reading a runner line over 1 MiB, and fails the turn saying so", async () => {
    // No containers: the sandbox's folders are this machine's, the agent's own.
    for (const folder of ["workspace", "home"]) await chown(join(dir, folder), 1000, 1000);
    const modal = new FakeModal({ runLocally: true });
    const lines: string[] = [];
    const ok = await runModalDoctor({
      modal: {
        ...modalOptions(modal),
        runnerBundle: null,
        // A "runner" that sends 2 MiB without a newline, then waits.
        runnerCommand: ["sh", "-c", "head -c 2097152 /dev/zero | tr '\\0' a; exec sleep 30"],
      },
      model: {},
      egress: "open",
      turnTimeoutMs: 60_000,
      write: (line) => lines.push(line),
    });
    expect(ok).toBe(false);
    expect(lines.find((line) => line.startsWith("FAIL "))).toMatch(
      /^FAIL agent turn .*: the runner sent a line over 1 MiB$/,
    );
    expect(lines.some((line) => line.startsWith("ok   clean up"))).toBe(true);
    // Without containers, the commands' pid files were this machine's.
    const pidFiles = modal.execCalls
      .map((call) => call.argv[6])
      .filter((p) => p?.startsWith("/run/agent-runtime/"));
    await Promise.all(pidFiles.map((p) => rm(p!, { force: true })));
  });
});

describe("agent-runtime doctor --sandbox modal: credentials", () => {
  it("fails the first step without a token, before any call to Modal", async () => {
    const modal = new FakeModal();
    const lines: string[] = [];
    const ok = await runModalDoctor({
      modal: { createClient: modal.factory },
      model: {},
      write: (line) => lines.push(line),
    });
    expect(ok).toBe(false);
    expect(lines[0]).toMatch(
      /^FAIL options and credentials \(\d+ ms\): set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET/,
    );
    expect(modal.credentials).toEqual([]);
  });

  it("reports credentials Modal rejects at the App step", async () => {
    const modal = new FakeModal();
    modal.failNext.ensureApp = Object.assign(new Error("UNAUTHENTICATED: invalid token"), { code: 16 });
    const lines: string[] = [];
    const ok = await runModalDoctor({
      modal: { tokenId: "ak-x", tokenSecret: "as-x", createClient: modal.factory },
      model: {},
      write: (line) => lines.push(line),
    });
    expect(ok).toBe(false);
    expect(lines[1]).toMatch(/^FAIL Modal App .*invalid token.*check MODAL_TOKEN_ID and MODAL_TOKEN_SECRET/);
    expect(lines).not.toContain(expect.stringContaining("as-x"));
    expect(modal.createRequests).toEqual([]);
  });
});
