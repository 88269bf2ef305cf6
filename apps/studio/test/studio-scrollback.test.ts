import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Block } from "@agent-runtime/protocol";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryPersistenceAdapter } from "../../../packages/server/src/index.js";
import { startTestServer, type TestServer } from "../../../packages/server/test/support/test-server.js";
import { launchChromium } from "./support/chromium.js";

/**
 * Issue 25: a long conversation loads its newest blocks, and the Studio
 * loads older ones as the reader scrolls to the top, until it shows them all
 * (its production build in Debian's Chromium, a stored 1,200-block session).
 */

const here = dirname(fileURLToPath(import.meta.url));
const distIndex = join(here, "..", "dist", "index.html");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];
const SESSION_ID = "long-session";
const BLOCK_COUNT = 1_200;

describe("Studio scrollback of a long conversation, in a real browser", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(distIndex)) throw new Error("No Studio build: run `npm run build` first");
    const persistence = createMemoryPersistenceAdapter();
    const now = new Date().toISOString();
    await persistence.createSession({
      sessionId: SESSION_ID,
      agentProfileRef: "test",
      architecture: "claude-agent-sdk",
      sessionOptions: {},
      createdAt: now,
      updatedAt: now,
      lastSeq: 0,
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0 },
    });
    const blocks: Block[] = Array.from({ length: BLOCK_COUNT }, (_, index) => ({
      type: "user_message",
      id: `block-${index}`,
      timestamp: new Date(1_700_000_000_000 + index * 1000).toISOString(),
      content: `Message number ${index}`,
    }));
    await persistence.saveBlocks(
      SESSION_ID,
      blocks.map((block, order) => ({ order, block })),
    );
    server = await startTestServer({ persistence, studio: true });
    browser = await launchChromium(CHROMIUM_ARGS);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it("shows the newest 500 blocks, then older pages as the reader scrolls up, until the first", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${server.url}/s/${SESSION_ID}`);
    const rendered = page.locator('[data-block-type="user_message"]');
    await expect.poll(() => rendered.count(), { timeout: 30_000 }).toBe(500);
    await expect.poll(() => rendered.last().textContent()).toContain(`Message number ${BLOCK_COUNT - 1}`);
    await expect(page.getByRole("button", { name: "Load earlier messages" }).isVisible()).resolves.toBe(true);

    const scrollToTop = () =>
      page.locator(".conversation").evaluate((element) => {
        element.scrollTop = 0;
        element.dispatchEvent(new Event("scroll"));
      });
    await scrollToTop();
    await expect.poll(() => rendered.count(), { timeout: 30_000 }).toBe(1_000);
    // The reader stays where they were: what they saw has not jumped away under older blocks.
    const scrollTop = await page.locator(".conversation").evaluate((element) => element.scrollTop);
    expect(scrollTop).toBeGreaterThan(0);
    await scrollToTop();
    await expect.poll(() => rendered.count(), { timeout: 30_000 }).toBe(BLOCK_COUNT);
    await expect.poll(() => rendered.first().textContent()).toContain("Message number 0");
    await expect.poll(() => page.getByRole("button", { name: "Load earlier messages" }).count()).toBe(0);
  }, 120_000);
});
