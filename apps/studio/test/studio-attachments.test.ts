import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../../packages/server/test/support/test-server.js";
import { launchChromium } from "./support/chromium.js";

/**
 * Images and files in the Studio, in Debian's Chromium against a real server
 * that requires an API key (so every thumbnail must be fetched with it): a
 * pasted image reaches the model and shows in the conversation, dropped files
 * become chips, limits are refused before sending; tool results show their
 * duration and subagent cards their display name and summary.
 */

const here = dirname(fileURLToPath(import.meta.url));
const distIndex = join(here, "..", "dist", "index.html");
const artifacts = join(here, "..", "..", "..", "test-artifacts", "studio");
const API_KEY = "studio-attachments-key";

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

const script: ScriptInput = {
  rules: [
    { name: "image", match: { prompt: "What is in the picture", image: true }, reply: "A red rectangle." },
    {
      name: "no-image",
      match: { prompt: "What is in the picture", image: false },
      reply: "I see no picture.",
    },
    { name: "file", match: { prompt: "Read the attached notes" }, reply: "Noted the attachment." },
    {
      name: "slow tool",
      match: { prompt: "Wait a little" },
      replies: [{ tool: "Bash", input: { command: "sleep 0.3", description: "Wait" } }, "Waited."],
    },
    {
      name: "delegate",
      match: { prompt: "Delegate the review" },
      replies: [
        {
          tool: "Agent",
          input: {
            description: "Review the code",
            prompt: "Review the workspace code",
            subagent_type: "general-purpose",
            run_in_background: false,
          },
        },
        "The reviewer is done.",
      ],
    },
    {
      name: "reviewer",
      match: { prompt: "Review the workspace code" },
      reply: "## Three small issues found\n\nDetails follow.",
    },
  ],
};

/** Pastes a `width`×`height` red PNG drawn on a canvas into the focused composer; resolves to its bytes (base64). */
async function pasteImage(page: Page, width: number, height: number): Promise<string> {
  await page.getByLabel("Message").focus();
  return page.evaluate(
    async ([w, h]) => {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const context = canvas.getContext("2d");
      if (!context) throw new Error("no 2d context");
      context.fillStyle = "#d22";
      context.fillRect(0, 0, w, h);
      const blob = await new Promise<Blob>((resolve, reject) =>
        canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("toBlob failed"))), "image/png"),
      );
      const transfer = new DataTransfer();
      transfer.items.add(new File([blob], "image.png", { type: "image/png" }));
      const target = document.activeElement ?? document.body;
      target.dispatchEvent(
        new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }),
      );
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = "";
      for (const byte of bytes) binary += String.fromCharCode(byte);
      return btoa(binary);
    },
    [width, height] as const,
  );
}

/** Drops files (name, MIME type, size in bytes, filled with `fill`) on the composer. */
async function dropFiles(
  page: Page,
  files: readonly { name: string; type: string; size: number; fill?: string }[],
): Promise<void> {
  const dataTransfer = await page.evaluateHandle((list) => {
    const transfer = new DataTransfer();
    for (const file of list) {
      const data = new Uint8Array(file.size).fill((file.fill ?? "x").charCodeAt(0));
      transfer.items.add(new File([data], file.name, { type: file.type }));
    }
    return transfer;
  }, files);
  await page.locator(".composer").dispatchEvent("dragenter", { dataTransfer });
  await page.locator(".composer").dispatchEvent("drop", { dataTransfer });
}

/** True once the image has loaded with real pixels. */
function loaded(page: Page, selector: string) {
  return page
    .locator(selector)
    .first()
    .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0);
}

async function createSession(page: Page, baseUrl: string): Promise<string> {
  await page.goto(baseUrl);
  await page.getByRole("button", { name: "Create session" }).click();
  await page.waitForURL(/\/s\/[^/]+$/);
  return decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
}

async function send(page: Page, text: string): Promise<void> {
  const input = page.getByLabel("Message");
  await input.fill(text);
  await input.press("Enter");
}

function lastAssistantText(page: Page) {
  return page.locator('[data-block-type="assistant_text"]').last();
}

describe("Studio attachments and block details", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(distIndex)) throw new Error("No Studio build: run `npm run build` first");
    await mkdir(artifacts, { recursive: true });
    server = await startTestServer({ script, studio: true, apiKeys: [API_KEY] });
    browser = await launchChromium(CHROMIUM_ARGS);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  async function newPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.addInitScript((key) => localStorage.setItem("agent-runtime.apiKey", key), API_KEY);
    return page;
  }

  it("pastes an image, shows its thumbnail, sends it to the model and shows it in the conversation", async () => {
    const page = await newPage();
    const sessionId = await createSession(page, server.url);
    const png = Buffer.from(await pasteImage(page, 64, 40), "base64");

    const pending = page.getByRole("list", { name: "Attachments" });
    await pending.locator('[data-attachment-type="image"] img').waitFor({ timeout: 5_000 });
    expect(await loaded(page, '.composer-attachments [data-attachment-type="image"] img')).toBe(true);
    await page.screenshot({ path: join(artifacts, "desktop-composer-image.png") });

    await send(page, "What is in the picture?");
    await expect
      .poll(() => lastAssistantText(page).textContent(), { timeout: 60_000 })
      .toContain("A red rectangle.");
    expect(await pending.count()).toBe(0);

    const imageRequest = server.mock.requests.find((r) => r.matched === "image");
    expect(imageRequest?.images).toEqual([
      { mediaType: "image/png", bytes: png.length, sha256: createHash("sha256").update(png).digest("hex") },
    ]);

    const message = page.locator('[data-block-type="user_message"]').last();
    const thumbnail = message.locator("img.attachment-thumbnail");
    await thumbnail.waitFor({ timeout: 10_000 });
    const path = (await thumbnail.getAttribute("data-path")) ?? "";
    expect(path).toMatch(/^attachments\/[0-9a-f]{8}\/image-1\.png$/);
    await expect
      .poll(() => loaded(page, '[data-block-type="user_message"] img.attachment-thumbnail'))
      .toBe(true);
    expect(
      await thumbnail.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]),
    ).toEqual([64, 40]);
    // Fetched with the key: the same URL without it is refused.
    expect((await fetch(`${server.url}/sessions/${sessionId}/files/${path}`)).status).toBe(401);
    await page.screenshot({ path: join(artifacts, "desktop-conversation-image.png") });

    // The thumbnail survives a reload (drawn from the block and the files API).
    await page.reload();
    await expect
      .poll(() => loaded(page, '[data-block-type="user_message"] img.attachment-thumbnail'), {
        timeout: 15_000,
      })
      .toBe(true);
    await page.close();
  });

  it("drops files as chips, removes one, refuses what is over the limits, and sends the rest", async () => {
    const page = await newPage();
    await createSession(page, server.url);
    await dropFiles(page, [
      { name: "notes.txt", type: "text/plain", size: 18, fill: "n" },
      { name: "draft.md", type: "text/markdown", size: 10 },
      { name: "huge.png", type: "image/png", size: 6 * 1024 * 1024 },
      { name: "fake.png", type: "image/png", size: 100, fill: "t" },
    ]);
    const pending = page.getByRole("list", { name: "Attachments" });
    await pending.locator('[data-attachment-type="file"]').first().waitFor({ timeout: 5_000 });
    expect(await pending.locator('[data-attachment-type="file"]').count()).toBe(2);
    expect(await pending.textContent()).toContain("notes.txt");
    const problem = page.getByRole("alert").filter({ hasText: "huge.png" });
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(/huge\.png is 6(\.0)? MB.*5(\.0)? MB/);
    // Named and typed as a PNG, but its bytes are not an image: refused before sending.
    await page
      .getByRole("alert")
      .filter({ hasText: "fake.png is not a PNG, JPEG, GIF or WebP image" })
      .waitFor();
    expect(await pending.locator('[data-attachment-type="image"]').count()).toBe(0);

    await pending.getByRole("button", { name: "Remove draft.md" }).click();
    await expect.poll(() => pending.locator('[data-attachment-type="file"]').count()).toBe(1);

    // More than the per-message count is refused before anything is sent.
    await dropFiles(
      page,
      Array.from({ length: 10 }, (_, i) => ({ name: `extra-${i}.txt`, type: "text/plain", size: 4 })),
    );
    await page.getByRole("alert").filter({ hasText: "at most 10" }).waitFor();
    expect(await pending.locator('[data-attachment-type="file"]').count()).toBe(10);
    for (let i = 0; i < 9; i++) await pending.getByRole("button", { name: `Remove extra-${i}.txt` }).click();
    expect(await pending.locator('[data-attachment-type="file"]').count()).toBe(1);
    await page.screenshot({ path: join(artifacts, "desktop-composer-files.png") });

    await send(page, "Read the attached notes");
    await expect
      .poll(() => lastAssistantText(page).textContent(), { timeout: 60_000 })
      .toContain("Noted the attachment.");
    const chips = page.locator('[data-block-type="user_message"] .attachment-chip');
    await expect.poll(() => chips.count()).toBe(1);
    expect(await chips.first().getAttribute("data-path")).toMatch(/^attachments\/[0-9a-f]{8}\/notes\.txt$/);
    expect(await chips.first().textContent()).toContain("notes.txt");
    await page.close();
  });

  it("shows a tool result's duration and a subagent's display name and summary", async () => {
    const page = await newPage();
    await createSession(page, server.url);
    await send(page, "Wait a little");
    const card = page.locator('[data-tool-name="Bash"]');
    await card.waitFor({ timeout: 60_000 });
    await expect.poll(() => card.getAttribute("data-state"), { timeout: 30_000 }).toBe("done");
    const duration = card.locator(".tool-duration");
    await duration.waitFor();
    expect(Number(await duration.getAttribute("data-duration-ms"))).toBeGreaterThanOrEqual(300);
    expect(await duration.textContent()).toMatch(/^\d+(\.\d)? s$|^\d+ ms$/);

    await send(page, "Delegate the review");
    const subagent = page.locator('[data-block-type="subagent"]');
    await subagent.waitFor({ timeout: 60_000 });
    await expect
      .poll(() => lastAssistantText(page).textContent(), { timeout: 60_000 })
      .toContain("reviewer is done");
    expect(await subagent.locator("strong").textContent()).toBe("General purpose");
    await expect.poll(() => subagent.textContent()).toContain("Three small issues found");
    expect(await subagent.textContent()).not.toContain("##");
    await page.screenshot({ path: join(artifacts, "desktop-block-details.png") });
    await page.close();
  });
});
