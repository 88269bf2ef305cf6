/**
 * Test tools for the runtime and applications built on it: contract suites
 * for third-party implementations of the pluggable interfaces (they use
 * vitest's `describe`/`it`/`expect`; call them from a vitest test file), and
 * an in-memory sandbox provider whose runner plays the agent by script, to
 * test sessions in process without sandboxes.
 */

export * from "../sandboxes/sandbox-contract.js";
export * from "./architecture-contract.js";
export * from "./fake-process.js";
export * from "./fake-runner.js";
export * from "./fake-sandbox-provider.js";
export * from "./persistence-contract.js";
