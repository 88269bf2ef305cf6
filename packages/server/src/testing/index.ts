/**
 * Contract suites for third-party implementations of the runtime's pluggable
 * interfaces. They use vitest's `describe`/`it`/`expect`; call them from a
 * vitest test file.
 */

export * from "../sandboxes/sandbox-contract.js";
export * from "./persistence-contract.js";
