import { mkdirSync, mkdtempSync, realpathSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { locateRunner } from "./runner-location.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/**
 * An install with the runner's `dist/main.js` and `dist/runner.js`, the protocol's `dist/index.js` and,
 * unless `manifest` is undefined, a local runner built after them (before them with `manifestOlder`;
 * before only `newer` with that option).
 */
function install(
  manifest: unknown,
  options: { manifestOlder?: boolean; newer?: "runner/dist/runner.js" | "protocol/dist/index.js" } = {},
) {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "runner-location-")));
  roots.push(root);
  const runnerDir = join(root, "node_modules", "@agent-runtime", "runner");
  mkdirSync(join(runnerDir, "dist", "local-runner"), { recursive: true });
  writeFileSync(join(runnerDir, "package.json"), JSON.stringify({ exports: { "./main": "./dist/main.js" } }));
  const sdkDir = join(root, "node_modules", "@anthropic-ai", "claude-agent-sdk");
  mkdirSync(sdkDir, { recursive: true });
  writeFileSync(join(sdkDir, "package.json"), JSON.stringify({ version: "1.0.0" }));
  const protocolDir = join(root, "node_modules", "@agent-runtime", "protocol");
  mkdirSync(join(protocolDir, "dist"), { recursive: true });
  writeFileSync(join(protocolDir, "package.json"), "{}");
  const mainPath = join(runnerDir, "dist", "main.js");
  const compiled = [mainPath, join(runnerDir, "dist", "runner.js"), join(protocolDir, "dist", "index.js")];
  for (const file of compiled) writeFileSync(file, "");
  const localDir = join(runnerDir, "dist", "local-runner");
  writeFileSync(join(localDir, "main.cjs"), "");
  if (manifest !== undefined) {
    const manifestPath = join(localDir, "local-runner.json");
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const main = new Date("2030-01-01T00:00:00Z");
    for (const file of compiled) utimesSync(file, main, main);
    if (options.newer) {
      const later = new Date(main.getTime() + 2_000);
      utimesSync(join(root, "node_modules", "@agent-runtime", options.newer), later, later);
    }
    const built = new Date(main.getTime() + (options.manifestOlder ? -1_000 : 1_000));
    utimesSync(manifestPath, built, built);
  }
  return { from: join(root, "app"), mainPath, localMain: join(localDir, "main.cjs") };
}

const valid = {
  entry: "main.cjs",
  nodeOptions: ["--max-semi-space-size=1"],
  node: process.version,
  inlined: { "@anthropic-ai/claude-agent-sdk": "1.0.0" },
};

describe("locateRunner", () => {
  it("runs the local runner, with its node options, when it was built after dist/main.js", () => {
    const { from, mainPath, localMain } = install(valid);
    const runner = locateRunner(from)!;
    expect(runner.mainPath).toBe(mainPath);
    expect(runner.entry).toEqual({ path: localMain, nodeOptions: ["--max-semi-space-size=1"] });
  });

  it("runs dist/main.js when the local runner is older (the runner was rebuilt with tsc alone)", () => {
    const { from, mainPath } = install(valid, { manifestOlder: true });
    expect(locateRunner(from)!.entry).toEqual({ path: mainPath, nodeOptions: [] });
  });

  it("runs dist/main.js when tsc rewrote another file of the runner or the protocol after the local runner", () => {
    for (const newer of ["runner/dist/runner.js", "protocol/dist/index.js"] as const) {
      const { from, mainPath } = install(valid, { newer });
      expect(locateRunner(from)!.entry).toEqual({ path: mainPath, nodeOptions: [] });
    }
  });

  it("runs dist/main.js when the local runner inlines another version of a package than the one installed", () => {
    const { from, mainPath } = install({ ...valid, inlined: { "@anthropic-ai/claude-agent-sdk": "0.9.0" } });
    expect(locateRunner(from)!.entry).toEqual({ path: mainPath, nodeOptions: [] });
  });

  it("runs dist/main.js when there is no local runner, or its manifest is not one the build writes", () => {
    for (const manifest of [
      undefined,
      "not an object",
      { ...valid, entry: "../../main.js" },
      { ...valid, entry: "missing.cjs" },
      { ...valid, nodeOptions: ["--max-semi-space-size=1", "-r x"] },
      { ...valid, nodeOptions: "--max-semi-space-size=1" },
      { ...valid, inlined: undefined },
    ]) {
      const { from, mainPath } = install(manifest);
      expect(locateRunner(from)!.entry).toEqual({ path: mainPath, nodeOptions: [] });
    }
  });
});
