/*
 * Builds the self-contained runner: `dist/bundle/runner.mjs`, one ES module
 * with the protocol and every pure-JavaScript dependency inlined, which runs
 * on a plain `node` (>= 20) anywhere. The packages that carry native code or
 * an agent's binary stay outside the bundle; `dist/bundle/runner-bundle.json`
 * names them with the exact versions of the repository's package-lock, so a
 * sandbox image installs exactly those next to the bundle
 * (`node_modules/` beside `runner.mjs`).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const runnerDir = join(here, "..");
const outDir = join(runnerDir, "dist", "bundle");

/** Installed beside the bundle: an agent's binary (Claude Code, OpenCode) or a native add-on (koffi). */
const EXTERNAL = ["@anthropic-ai/claude-agent-sdk", "opencode-ai", "koffi"];

const lock = JSON.parse(await readFile(join(runnerDir, "..", "..", "package-lock.json"), "utf8"));
const packages = {};
for (const name of EXTERNAL) {
  const version = lock.packages?.[`node_modules/${name}`]?.version;
  if (typeof version !== "string") throw new Error(`${name} is not in package-lock.json`);
  packages[name] = version;
}

await mkdir(outDir, { recursive: true });
await build({
  entryPoints: [join(runnerDir, "src", "main.ts")],
  outfile: join(outDir, "runner.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  conditions: ["@agent-runtime/source"],
  external: EXTERNAL.flatMap((name) => [name, `${name}/*`]),
  // Bundled CommonJS modules call `require` for Node's built-ins.
  banner: {
    js: 'import { createRequire as __agentRuntimeCreateRequire } from "node:module"; const require = __agentRuntimeCreateRequire(import.meta.url);',
  },
  legalComments: "eof",
  logLevel: "warning",
});
await writeFile(
  join(outDir, "runner-bundle.json"),
  `${JSON.stringify({ entry: "runner.mjs", packages }, null, 2)}\n`,
);
