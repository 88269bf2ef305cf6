import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const dist = fileURLToPath(new URL("../../dist/", import.meta.url));

/** Packages that only load when their feature is used: a storage driver when chosen, the demo model when started, Modal's SDK when a Modal sandbox is. */
const lazy = [
  /\/node_modules\/pg\//,
  /\/node_modules\/better-sqlite3\//,
  /\/mock-model\//,
  /\/node_modules\/modal\//,
];

/**
 * Imports the built `modulePath` in a fresh `node` with a module hook that
 * records every module it resolves, and answers the resolved URLs.
 */
async function modulesLoadedBy(folder: string, modulePath: string): Promise<string[]> {
  const log = join(folder, `${Math.random().toString(36).slice(2)}.log`);
  await writeFile(log, "");
  await run(
    process.execPath,
    [
      "--import",
      pathToFileURL(join(folder, "register.mjs")).href,
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(pathToFileURL(modulePath).href)});`,
    ],
    {
      env: { ...process.env, RESOLVED_LOG: log },
    },
  );
  return (await readFile(log, "utf8")).split("\n").filter(Boolean);
}

describe("importing @agent-runtime/server", () => {
  let folder: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "agent-runtime-imports-"));
    await writeFile(
      join(folder, "hooks.mjs"),
      `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.RESOLVED_LOG, resolved.url + "\\n");
  return resolved;
}
`,
    );
    await writeFile(
      join(folder, "register.mjs"),
      `import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n`,
    );
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it("does not load a storage driver or the demo model", async () => {
    const loaded = await modulesLoadedBy(folder, join(dist, "index.js"));
    expect(loaded.some((url) => url.endsWith("/dist/core/agent-runtime.js"))).toBe(true);
    for (const pattern of lazy) expect(loaded.filter((url) => pattern.test(url))).toEqual([]);
  });

  it("does not load them with the CLI's serve command either, until it runs", async () => {
    const loaded = await modulesLoadedBy(folder, join(dist, "cli", "serve.js"));
    expect(loaded.some((url) => url.endsWith("/dist/server.js"))).toBe(true);
    for (const pattern of lazy) expect(loaded.filter((url) => pattern.test(url))).toEqual([]);
  });

  it("says how to install the demo model where it is missing", async () => {
    // A copy of the loader outside the repository, where the package cannot be resolved.
    const loader = join(folder, "load-mock-model.mjs");
    await copyFile(join(dist, "cli", "load-mock-model.js"), loader);
    const script = `const { loadMockModel } = await import(${JSON.stringify(pathToFileURL(loader).href)});
await loadMockModel().catch((error) => console.log(error.message));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
    expect(stdout).toContain("npm install @agent-runtime/mock-model");
  });
});
