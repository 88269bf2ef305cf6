import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../../packages/server/test/support/test-server.js";
import { launchChromium } from "./support/chromium.js";

/**
 * The Studio's production build served under a route prefix
 * (`basePath: "/api"`, what `serve --base-path /api` sets), driven in
 * Debian's Chromium: it loads at the prefix and at a deep link below it,
 * creates a session and streams a real turn (REST and socket.io under the
 * prefix), and nothing it asks for is outside the prefix or fails.
 */

const here = dirname(fileURLToPath(import.meta.url));
const distIndex = join(here, "..", "dist", "index.html");

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-quic",
  "--no-first-run",
  "--disable-sync",
];

const ANSWER = "Hello from under the prefix.";
const script: ScriptInput = { rules: [{ name: "hello", match: { prompt: "Say hello" }, reply: ANSWER }] };

describe("Studio under a route prefix, in a real browser", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(distIndex)) throw new Error("No Studio build: run `npm run build` first");
    server = await startTestServer({ script, studio: true, server: { basePath: "/api" } });
    browser = await launchChromium(CHROMIUM_ARGS);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it("loads under the prefix, streams a turn through it, reopens at a deep link, and asks for nothing outside it", async () => {
    const origin = new URL(server.url).origin;
    expect(server.url).toBe(`${origin}/api`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const requested: string[] = [];
    const failed: string[] = [];
    page.on("request", (request) => requested.push(request.url()));
    page.on("websocket", (socket) => requested.push(socket.url()));
    page.on("requestfailed", (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    page.on("response", (response) => {
      if (response.status() >= 400) failed.push(`${response.url()}: ${response.status()}`);
    });

    await page.goto(`${server.url}/`);
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/\/api\/s\/[^/]+$/);
    const input = page.getByLabel("Message");
    await input.fill("Say hello please");
    await input.press("Enter");
    const answer = page.locator('[data-block-type="assistant_text"]').last();
    await expect.poll(() => answer.textContent(), { timeout: 120_000 }).toContain(ANSWER);

    // A deep link below the prefix: the page, its assets and the session's data all load from under it.
    await page.reload();
    await expect
      .poll(() => page.locator('[data-block-type="assistant_text"]').last().textContent(), {
        timeout: 30_000,
      })
      .toContain(ANSWER);
    expect(new URL(page.url()).pathname).toMatch(/^\/api\/s\/[^/]+$/);

    const paths = requested
      .filter((url) => /^(https?|wss?):/.test(url))
      .map((url) => new URL(url))
      .filter((url) => url.host === new URL(origin).host)
      .map((url) => url.pathname);
    expect(paths.filter((path) => path !== "/api" && !path.startsWith("/api/"))).toEqual([]);
    expect(paths.some((path) => path.startsWith("/api/assets/"))).toBe(true);
    expect(paths.some((path) => path.startsWith("/api/socket.io/"))).toBe(true);
    expect(paths.some((path) => path.startsWith("/api/sessions"))).toBe(true);
    expect(failed).toEqual([]);
    await context.close();
  }, 180_000);
});
