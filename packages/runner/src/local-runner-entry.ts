/**
 * Entry of the local runner (`dist/local-runner/runner.cjs`, see
 * `scripts/bundle.mjs`): one CommonJS script that its loader compiles with
 * V8's code cache. Exports what the loader calls; runs nothing itself.
 */
export { runnerMain } from "./runner-main.js";

/**
 * Loads and initialises the Claude host and its SDK without starting
 * anything, so that the code cache made after it holds their compiled code.
 */
export async function preloadClaudeHost(): Promise<void> {
  await import("./agents/claude-agent-sdk/claude-host.js");
}
