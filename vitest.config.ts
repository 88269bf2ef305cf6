import { defineConfig } from "vitest/config";

/**
 * Tests import workspace packages from their TypeScript sources (the
 * `@agent-runtime/source` export condition), so `vitest` needs no build for
 * unit tests. End-to-end suites spawn the built runner inside real sandboxes,
 * which is why `npm test` builds first.
 */
const resolve = { conditions: ["@agent-runtime/source"] };
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
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: "e2e",
          include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
