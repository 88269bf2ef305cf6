import { defineConfig } from "vitest/config";

/**
 * Tests import workspace packages from their TypeScript sources (the
 * `@agent-runtime/source` export condition), so `vitest` needs no build for
 * unit tests. End-to-end suites spawn the built runner inside real sandboxes,
 * which is why `npm test` builds first.
 */
const resolve = { conditions: ["@agent-runtime/source"] };

export default defineConfig({
  resolve,
  test: {
    projects: [
      {
        resolve,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        resolve,
        test: {
          name: "e2e",
          include: ["packages/*/test/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
