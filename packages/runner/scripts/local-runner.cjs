"use strict";
/*
 * The local runner's loader, `dist/local-runner/main.cjs` (copied there by
 * `scripts/bundle.mjs`): `node <nodeOptions> main.cjs <config.json>` runs the
 * runner of `runner.cjs` (one CommonJS script, the runner with its
 * JavaScript dependencies, the Claude Agent SDK included) compiled with
 * V8's code cache `runner.cjs.cache`, which the build made with this same
 * `node` and options: most of a runner's start-up is compiling that code.
 * V8 checks that a cache fits its version, its options and the script, and
 * rejects one that does not; the script is then compiled as usual (slower,
 * nothing else changes). The folder is read-only inside a sandbox, so
 * nothing in it can replace the cache.
 *
 * `require`d instead of run, it exports `writeCodeCache` for the build.
 */
const { readFileSync, writeFileSync } = require("node:fs");
const { createRequire, wrap } = require("node:module");
const { join } = require("node:path");
const vm = require("node:vm");

const BUNDLE = join(__dirname, "runner.cjs");
const CACHE = `${BUNDLE}.cache`;

/** Compiles and evaluates the bundle (with `cachedData` when given); returns the script and its exports. */
function load(cachedData) {
  const script = new vm.Script(wrap(readFileSync(BUNDLE, "utf8")), {
    filename: BUNDLE,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  script
    .runInThisContext()
    .call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, __dirname);
  return {
    script,
    rejected: cachedData !== undefined && script.cachedDataRejected === true,
    exports: module.exports,
  };
}

/** Writes the code cache of the bundle once it and the Claude host are loaded (run with the runner's node options). */
async function writeCodeCache() {
  const { script, exports } = load(undefined);
  await exports.preloadClaudeHost();
  writeFileSync(CACHE, script.createCachedData());
}

if (require.main === module) {
  let cachedData;
  try {
    cachedData = readFileSync(CACHE);
  } catch {
    // No cache: compile as usual.
  }
  const { rejected, exports } = load(cachedData);
  cachedData = undefined;
  if (rejected) {
    process.stderr.write(
      "agent-runtime runner: the code cache does not fit this node; compiled without it\n",
    );
  }
  void exports.runnerMain();
} else {
  module.exports = { writeCodeCache };
}
