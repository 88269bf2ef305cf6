import { configDefaults, defineConfig } from "vitest/config";

/**
 * Tests import workspace packages from their TypeScript sources (the
 * `@agent-runtime/source` export condition), so `vitest` needs no build for
 * unit tests. End-to-end suites spawn the built runner inside real sandboxes,
 * which is why `npm test` builds first.
 */
const resolve = { conditions: ["@agent-runtime/source"] };

/**
 * End-to-end suites that measure time, memory or fairness under load (or
 * load the machine themselves: fork and memory bombs, floods). They run
 * last, alone, one file at a time.
 */
const TIMING_SUITES = [
  "packages/server/test/hostile/**/*.test.ts",
  "packages/server/test/e2e/socket-stress.test.ts",
  "packages/server/test/e2e/output-flood.test.ts",
  "packages/server/test/e2e/hostile-runner.test.ts",
  "packages/server/test/e2e/sandbox-attacks.test.ts",
  "packages/server/test/e2e/model-stall.test.ts",
  "packages/server/test/e2e/permissions.test.ts",
  "packages/server/test/sandboxes/local-limits.test.ts",
  "packages/server/test/sandboxes/local-disk.test.ts",
  "packages/server/test/http/file-streaming.test.ts",
  "packages/server/test/http/rate-limits.test.ts",
];
/** Node-side tests run in Vite's SSR environment, which has its own resolve conditions. */
const ssr = {
  resolve: { conditions: ["@agent-runtime/source"], externalConditions: ["@agent-runtime/source"] },
};

export default defineConfig({
  resolve,
  ssr,
  test: {
    projects: [
      {
        resolve,
        ssr,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts"],
          testTimeout: 20_000,
          // One pool with the end-to-end suites (a group shares its workers).
          maxWorkers: 2,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: "e2e",
          include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...TIMING_SUITES],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two files at a time: most of an end-to-end test's time is spent waiting on agents and sandboxes.
          maxWorkers: 2,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: "e2e-timing",
          include: TIMING_SUITES,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // After every other suite, one file at a time, so what they measure is the server's, not the machine's load.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
