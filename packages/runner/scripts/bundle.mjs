/*
 * Builds the self-contained runner: `dist/bundle/runner.mjs`, one ES module
 * with the protocol and every pure-JavaScript dependency inlined, which runs
 * on a plain `node` (>= 20) anywhere. The packages that carry native code or
 * an agent's binary stay outside the bundle; `dist/bundle/runner-bundle.json`
 * names them with the exact versions of the repository's package-lock, so a
 * sandbox image installs exactly those next to the bundle
 * (`node_modules/` beside `runner.mjs`).
 *
 * Also builds the local runner, `dist/local-runner/`, which the local
 * sandbox provider runs with the `node` that built it: `runner.cjs` (one
 * CommonJS script, the Claude Agent SDK inlined too), its V8 code cache
 * `runner.cjs.cache` made by that `node` with the runner's options, the
 * loader `main.cjs` (`scripts/local-runner.cjs`) and `local-runner.json`
 * (entry and node options). It is made from this machine's packages for
 * this machine, and is not published (see `files` in package.json).
 */
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const runnerDir = join(here, "..");
const outDir = join(runnerDir, "dist", "bundle");
const localDir = join(runnerDir, "dist", "local-runner");

/** Installed beside the bundle: an agent (Claude Code, OpenCode, Codex's ACP adapter, Gemini CLI) or a native add-on (koffi). */
const EXTERNAL = [
  "@anthropic-ai/claude-agent-sdk",
  "opencode-ai",
  "@zed-industries/codex-acp",
  "@google/gemini-cli",
  "koffi",
];

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
// The Modal provider's model key proxy: started as root inside a Modal sandbox beside the runner (see its file).
await build({
  entryPoints: [join(runnerDir, "..", "server", "src", "sandboxes", "modal", "key-proxy-main.ts")],
  outfile: join(outDir, "key-proxy.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  legalComments: "eof",
  logLevel: "warning",
});
await writeFile(
  join(outDir, "runner-bundle.json"),
  `${JSON.stringify({ entry: "runner.mjs", keyProxy: "key-proxy.mjs", packages }, null, 2)}\n`,
);

/**
 * Options of the local runner's `node`: a young generation of at most 1 MiB
 * per semi-space (V8's default grows to 16 MiB), which keeps a few MiB off
 * each runner for a little more garbage collection. A code cache only fits
 * the options it was made with: the cache is made with these.
 */
const LOCAL_NODE_OPTIONS = ["--max-semi-space-size=1"];

/**
 * Builds `dist/local-runner/`. Nothing depends on it but speed: when it
 * cannot be built (e.g. new code that only runs as an ES module), the build
 * says so and goes on, and local sandboxes run `dist/main.js`.
 */
async function buildLocalRunner() {
  /** The inlined SDK's manifest: the local runner is stale once another version is installed. */
  const sdkManifest = JSON.parse(
    await readFile(
      join(
        dirname(createRequire(join(runnerDir, "package.json")).resolve("@anthropic-ai/claude-agent-sdk")),
        "package.json",
      ),
      "utf8",
    ),
  );

  await rm(localDir, { recursive: true, force: true });
  await mkdir(localDir, { recursive: true });
  await build({
    entryPoints: [join(runnerDir, "src", "local-runner-entry.ts")],
    outfile: join(localDir, "runner.cjs"),
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    conditions: ["@agent-runtime/source"],
    // The Claude Agent SDK is inlined (its code is most of what a Claude runner compiles); it finds its
    // Claude Code binary from the bundle's folder. The rest of `EXTERNAL` stays outside.
    external: EXTERNAL.filter((name) => name !== "@anthropic-ai/claude-agent-sdk").flatMap((name) => [
      name,
      `${name}/*`,
    ]),
    // The SDK's entry for bundlers: the same `query()`, with zod and the MCP SDK (its peer dependencies,
    // installed with it) taken from the install instead of copies of its own, and less code loaded at once.
    alias: { "@anthropic-ai/claude-agent-sdk": "@anthropic-ai/claude-agent-sdk/core" },
    define: {
      "import.meta.url": "__localRunnerUrl",
      // What the Claude host would otherwise read from the SDK's package.json at each start.
      __AGENT_RUNTIME_CLAUDE_CODE_VERSION__: JSON.stringify(sdkManifest.claudeCodeVersion),
    },
    banner: { js: 'var __localRunnerUrl = require("node:url").pathToFileURL(__filename).href;' },
    // Less source to hold in memory; names are kept for readable stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "eof",
    logLevel: "warning",
    // `import.meta` is empty in CommonJS (only its `url` is defined above): code using more of it fails the build.
    logOverride: { "empty-import-meta": "error" },
  });
  await copyFile(join(here, "local-runner.cjs"), join(localDir, "main.cjs"));
  execFileSync(
    process.execPath,
    [
      ...LOCAL_NODE_OPTIONS,
      "-e",
      "require(process.argv[1]).writeCodeCache().catch((e) => { console.error(e); process.exit(1); })",
      join(localDir, "main.cjs"),
    ],
    { stdio: "inherit", env: {} },
  );
  await writeFile(
    join(localDir, "local-runner.json"),
    `${JSON.stringify(
      {
        entry: "main.cjs",
        nodeOptions: LOCAL_NODE_OPTIONS,
        node: process.version,
        inlined: { "@anthropic-ai/claude-agent-sdk": sdkManifest.version },
      },
      null,
      2,
    )}\n`,
  );
}

try {
  await buildLocalRunner();
} catch (error) {
  await rm(localDir, { recursive: true, force: true });
  console.warn(
    `WARNING: the local runner was not built, local sandboxes will run the slower dist/main.js: ${error instanceof Error ? error.message : String(error)}`,
  );
}
