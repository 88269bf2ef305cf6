import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createClaudeAgentSdkArchitecture,
  createOpenCodeArchitecture,
} from "../../../packages/server/src/index.js";
import { untarGz } from "../../../packages/server/test/http/untar.js";
import { startTestServer, type TestServer } from "../../../packages/server/test/support/test-server.js";
import { launchChromium } from "./support/chromium.js";

/**
 * The Studio's production build, served by a real server (SQLite, bubblewrap
 * sandbox, the real Claude Code against the scripted mock model), driven in
 * Debian's Chromium. Screenshots of the main views land in
 * `test-artifacts/studio/` for a person to look at.
 */

const here = dirname(fileURLToPath(import.meta.url));
const distIndex = join(here, "..", "dist", "index.html");
const artifacts = join(here, "..", "..", "..", "test-artifacts", "studio");

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

const NOTES =
  "# Notes\n\n- Studio end-to-end test\n- Written by the agent\n\n```ts\nconst answer = 42;\n```\n";
const SUMMARY = `Here is what I did:\n\n1. Wrote \`notes.md\` with a short list.\n2. Checked it.\n\n${"The workspace now holds the notes, ready to read. ".repeat(8)}\n\nAll **done**.`;
const STORY = `Once upon a time ${"the agent kept writing, ".repeat(60)}and the story reached its end.`;

const script: ScriptInput = {
  defaults: { chunkSize: 8 },
  rules: [
    {
      name: "notes",
      match: { prompt: "Write the notes" },
      replies: [
        [
          "I will write the notes file.",
          { tool: "Write", input: { file_path: "{{cwd}}/notes.md", content: NOTES } },
        ],
        { steps: [{ thinking: "The file is written; summarize." }, SUMMARY], chunkDelayMs: 40, chunkSize: 6 },
      ],
    },
    {
      name: "failing command",
      match: { prompt: "Run the broken command" },
      replies: [
        { tool: "Bash", input: { command: "cat missing-file.txt", description: "Read it" } },
        "That file does not exist.",
      ],
    },
    {
      name: "delegate",
      match: { prompt: "Delegate the listing" },
      replies: [
        {
          tool: "Agent",
          input: {
            description: "List the workspace",
            prompt: "List the workspace files",
            subagent_type: "general-purpose",
            run_in_background: false,
          },
        },
        "The helper found notes.md.",
      ],
    },
    {
      name: "subagent",
      match: { prompt: "List the workspace files" },
      replies: [
        { tool: "Bash", input: { command: "ls", description: "List files" } },
        "The workspace holds notes.md.",
      ],
    },
    {
      name: "story",
      match: { prompt: "Tell me a long story" },
      reply: { steps: [STORY], chunkDelayMs: 20, chunkSize: 4 },
    },
    {
      name: "endless",
      match: { prompt: "Count forever" },
      reply: {
        steps: [`Counting: ${Array.from({ length: 400 }, (_, i) => i + 1).join(", ")}.`],
        chunkDelayMs: 50,
        chunkSize: 4,
      },
    },
  ],
};

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
}

/** Sends a message through the composer with the keyboard (Enter sends). */
async function send(page: Page, text: string): Promise<void> {
  const input = page.getByLabel("Message");
  await input.fill(text);
  await input.press("Enter");
}

async function createSession(page: Page, baseUrl: string): Promise<string> {
  await page.goto(baseUrl);
  await page.getByRole("button", { name: "Create session" }).click();
  await page.waitForURL(/\/s\/[^/]+$/);
  return decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
}

function lastAssistantText(page: Page) {
  return page.locator('[data-block-type="assistant_text"]').last();
}

describe("Studio in a real browser", () => {
  let server: TestServer;
  let browser: Browser;
  let desktop: BrowserContext;

  beforeAll(async () => {
    if (!existsSync(distIndex)) throw new Error("No Studio build: run `npm run build` first");
    await mkdir(artifacts, { recursive: true });
    server = await startTestServer({ script, studio: true });
    browser = await launchChromium(CHROMIUM_ARGS);
    desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it("is served at / with a fallback for its routes, while the API keeps answering JSON", async () => {
    const home = await fetch(`${server.url}/`);
    expect(home.headers.get("content-type")).toMatch(/text\/html/);
    expect(await home.text()).toContain('<div id="root">');

    const deepLink = await fetch(`${server.url}/s/some-session`, { headers: { accept: "text/html" } });
    expect(deepLink.status).toBe(200);
    expect(await deepLink.text()).toContain('<div id="root">');

    for (const path of ["/sessions/nope/unknown", "/no-such-route", "/s/some-session"]) {
      const response = await fetch(`${server.url}${path}`, { headers: { accept: "application/json" } });
      expect(response.status, path).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    }
  });

  it("creates a session, streams the answer, shows the tool card and the new file", async () => {
    const page = await desktop.newPage();
    await createSession(page, server.url);
    await expect.poll(() => page.getByText("Send a message to start the agent.").isVisible()).toBe(true);
    await shot(page, "desktop-new-session");

    await send(page, "Write the notes");
    await expect.poll(() => page.locator('[data-block-type="user_message"]').count()).toBe(1);

    const card = page.locator('[data-tool-name="Write"]');
    await card.waitFor({ timeout: 60_000 });
    await page.locator('[data-path="notes.md"]').waitFor({ timeout: 30_000 });

    // The summary streams in 6-character chunks every 40 ms: catch it part-way.
    const summary = lastAssistantText(page);
    let partial = "";
    await expect
      .poll(
        async () => {
          const text = (await summary.textContent()) ?? "";
          const streaming = (await summary.getAttribute("data-streaming")) === "true";
          if (streaming && text.startsWith("Here is what I did") && !text.includes("All done"))
            partial = text;
          return partial.length > 0;
        },
        { timeout: 60_000, interval: 50 },
      )
      .toBe(true);
    await shot(page, "desktop-streaming");
    await expect.poll(() => summary.textContent(), { timeout: 30_000 }).toContain("All done.");
    const final = (await summary.textContent()) ?? "";
    expect(final.length).toBeGreaterThan(partial.length);
    expect(await summary.locator("strong").textContent()).toBe("done");
    await expect.poll(() => page.getByText("Working…").count()).toBe(0);

    expect(await card.getAttribute("data-state")).toBe("done");
    await card.getByRole("button").first().click();
    expect(await card.locator(".tool-path").textContent()).toMatch(/notes\.md$/);
    await page.locator('[data-path="notes.md"]').click();
    await expect.poll(() => page.getByTestId("file-viewer").textContent()).toContain("const answer = 42;");
    await expect.poll(() => page.getByTestId("statusbar").textContent()).toMatch(/sandbox running/);
    await shot(page, "desktop-conversation");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download all" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^workspace-[0-9a-f]{8}\.tar\.gz$/);
    const archive = await readFile((await download.path()) ?? "");
    const entries = await untarGz(archive);
    expect(entries.find((entry) => entry.name === "notes.md")?.content.toString()).toBe(NOTES);

    await send(page, "Run the broken command");
    const failed = page.locator('[data-tool-name="Bash"]');
    await failed.waitFor({ timeout: 60_000 });
    await expect.poll(() => failed.getAttribute("data-state"), { timeout: 30_000 }).toBe("error");
    await expect
      .poll(() => lastAssistantText(page).textContent(), { timeout: 30_000 })
      .toContain("does not exist");
    await page.locator(".thinking summary").first().click();
    await failed.scrollIntoViewIfNeeded();
    await shot(page, "desktop-tool-error");

    await send(page, "Delegate the listing");
    const subagent = page.locator('[data-block-type="subagent"]');
    await subagent.waitFor({ timeout: 60_000 });
    await expect
      .poll(() => lastAssistantText(page).textContent(), { timeout: 60_000 })
      .toContain("helper found");
    await subagent.click();
    const drawer = page.getByRole("complementary", { name: "Subagent transcript" });
    await drawer.locator('[data-tool-name="Bash"]').waitFor({ timeout: 30_000 });
    await expect.poll(() => drawer.textContent()).toContain("The workspace holds notes.md.");
    await shot(page, "desktop-subagent");
    await page.keyboard.press("Escape");
    await expect.poll(() => drawer.count()).toBe(0);
    await page.close();
  });

  it("shows the whole conversation after a reload mid-stream and keeps streaming", async () => {
    const page = await desktop.newPage();
    const sessionId = await createSession(page, server.url);
    await send(page, "Tell me a long story");
    await expect
      .poll(async () => ((await lastAssistantText(page).textContent()) ?? "").length, { timeout: 60_000 })
      .toBeGreaterThan(40);
    const beforeReload = (await lastAssistantText(page).textContent()) ?? "";
    expect(beforeReload).not.toContain("reached its end");

    await page.reload();
    expect(new URL(page.url()).pathname).toBe(`/s/${sessionId}`);
    await page.locator('[data-block-type="user_message"]').waitFor();
    const afterReload = lastAssistantText(page);
    await afterReload.waitFor();
    // Still streaming after the reload: the text grows and then completes.
    const early = ((await afterReload.textContent()) ?? "").length;
    expect(early).toBeLessThan(STORY.length);
    await expect.poll(() => afterReload.textContent(), { timeout: 60_000 }).toContain("reached its end.");
    expect((await afterReload.textContent())?.trim()).toBe(STORY);
    expect(await page.locator('[data-block-type="assistant_text"]').count()).toBe(1);
    await page.close();
  });

  it("interrupts a running turn with Stop", async () => {
    const page = await desktop.newPage();
    await createSession(page, server.url);
    await send(page, "Count forever");
    await expect
      .poll(async () => ((await lastAssistantText(page).textContent()) ?? "").length, { timeout: 60_000 })
      .toBeGreaterThan(20);
    await send(page, "And then stop");
    await expect.poll(() => page.getByLabel("Queued messages").textContent()).toContain("And then stop");
    await shot(page, "desktop-running-queued");
    await page.getByRole("button", { name: "Stop" }).click();
    await expect.poll(() => page.getByRole("button", { name: "Stop" }).count(), { timeout: 30_000 }).toBe(0);
    const text = (await lastAssistantText(page).textContent()) ?? "";
    expect(text).not.toContain("400.");
  });

  it("shows sessions created, worked on and deleted elsewhere without polling or reload", async () => {
    const page = await desktop.newPage();
    await page.goto(server.url);
    await page.getByRole("button", { name: "Create session" }).waitFor();
    const elsewhere = async (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, { headers: { "content-type": "application/json" }, ...init });
    const created = (await (
      await elsewhere("/sessions", { method: "POST", body: JSON.stringify({ agentProfileRef: "test" }) })
    ).json()) as { sessionId: string };
    const item = page.locator(`.session-item[data-session-id="${created.sessionId}"]`);
    await item.waitFor({ timeout: 5_000 });
    expect(await item.locator(".session-title").textContent()).toBe("Untitled session");

    await elsewhere(`/sessions/${created.sessionId}/messages`, {
      method: "POST",
      body: JSON.stringify({ content: "Tell me a long story" }),
    });
    await expect
      .poll(() => item.locator(".session-title").textContent(), { timeout: 5_000 })
      .toBe("Tell me a long story");
    await expect
      .poll(() => item.locator(".session-meta").first().textContent(), { timeout: 30_000 })
      .toContain("working");
    await shot(page, "desktop-live-list");
    await expect
      .poll(() => item.locator(".session-meta").first().textContent(), { timeout: 60_000 })
      .toContain("running");

    await elsewhere(`/sessions/${created.sessionId}`, { method: "DELETE", headers: {} });
    await expect.poll(() => item.count(), { timeout: 5_000 }).toBe(0);
    await page.close();
  });

  it("asks before a tool call and runs it once allowed", async () => {
    const page = await desktop.newPage();
    await page.goto(server.url);
    await page.getByLabel("Ask before each tool call").check();
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    await send(page, "Write the notes");
    const prompt = page.getByRole("alertdialog", { name: "Permission for Write" });
    await prompt.waitFor({ timeout: 60_000 });
    expect(await prompt.textContent()).toContain("const answer = 42;");
    expect(await page.locator('[data-path="notes.md"]').count()).toBe(0);
    await shot(page, "desktop-permission");
    await prompt.getByRole("button", { name: "Allow", exact: true }).click();
    await expect.poll(() => prompt.count(), { timeout: 30_000 }).toBe(0);
    await page.locator('[data-path="notes.md"]').waitFor({ timeout: 30_000 });
    await expect
      .poll(() => lastAssistantText(page).textContent(), { timeout: 60_000 })
      .toContain("All done.");
    await page.close();
  });

  it("fits a phone screen", async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const page = await phone.newPage();
    await page.goto(server.url);
    await page.getByRole("button", { name: "Create session" }).waitFor();
    await shot(page, "phone-home");
    await page
      .locator(".session-item", { hasText: "Write the notes" })
      .last()
      .locator(".session-open")
      .click();
    await page.waitForURL(/\/s\//);
    await page.locator('[data-block-type="user_message"]').first().waitFor();
    await shot(page, "phone-conversation");
    await page.getByRole("tab", { name: "Files" }).click();
    await page.locator('[data-path="notes.md"]').click();
    await page.getByTestId("file-viewer").getByText("const answer = 42;").waitFor();
    await shot(page, "phone-files");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.close();
  });
});

describe("Studio with an API key", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({ script, studio: true, apiKeys: ["studio-secret"] });
    browser = await launchChromium(CHROMIUM_ARGS);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it("serves the app publicly, keeps the API protected, and asks for the key", async () => {
    expect((await fetch(`${server.url}/`)).status).toBe(200);
    expect((await fetch(`${server.url}/sessions`)).status).toBe(401);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.url);
    const key = page.getByLabel("API key");
    await key.fill("wrong");
    await key.press("Enter");
    await page.getByText("The server did not accept this key.").waitFor();
    await shot(page, "desktop-api-key");
    await key.fill("studio-secret");
    await key.press("Enter");
    await page.getByRole("button", { name: "Create session" }).waitFor();
    expect(await page.evaluate(() => localStorage.getItem("agent-runtime.apiKey"))).toBe("studio-secret");
    await page.reload();
    await page.getByRole("button", { name: "Create session" }).waitFor();
  });
});

describe("Studio with a tenant's key", () => {
  let server: TestServer;
  let browser: Browser;
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: { authorization: "Bearer root-key", "content-type": "application/json" },
    });
  const createFor = async (tenantId: string): Promise<string> => {
    const response = await admin("/sessions", {
      method: "POST",
      body: JSON.stringify({ agentProfileRef: "test", tenantId }),
    });
    return ((await response.json()) as { sessionId: string }).sessionId;
  };

  beforeAll(async () => {
    server = await startTestServer({
      script,
      studio: true,
      apiKeys: ["root-key", { tenant: "acme", key: "acme-key" }, { tenant: "globex", key: "globex-key" }],
    });
    browser = await launchChromium(CHROMIUM_ARGS);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it("shows and creates only that tenant's sessions, live", async () => {
    const acme = await createFor("acme");
    const globex = await createFor("globex");
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.url);
    const key = page.getByLabel("API key");
    await key.fill("acme-key");
    await key.press("Enter");
    const item = (sessionId: string) => page.locator(`.session-item[data-session-id="${sessionId}"]`);
    await item(acme).waitFor({ timeout: 5_000 });
    expect(await item(globex).count()).toBe(0);

    // Sessions created elsewhere: the tenant's appears, another tenant's never does.
    const laterGlobex = await createFor("globex");
    const laterAcme = await createFor("acme");
    await item(laterAcme).waitFor({ timeout: 5_000 });
    expect(await item(laterGlobex).count()).toBe(0);
    expect(await page.locator(".session-item").count()).toBe(2);

    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    const created = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
    const stored = (await (await admin(`/sessions/${created}`)).json()) as { tenantId?: string };
    expect(stored.tenantId).toBe("acme");
    await shot(page, "desktop-tenant-key");
    await page.close();
  });

  it("works with a browser token in ?token=, showing only its tenant's sessions and keeping the token out of the address bar", async () => {
    const acme = await createFor("acme");
    const globex = await createFor("globex");
    const minted = await fetch(`${server.url}/auth/tokens`, {
      method: "POST",
      headers: { authorization: "Bearer acme-key", "content-type": "application/json" },
      body: JSON.stringify({ ttlSeconds: 600 }),
    });
    const { token } = (await minted.json()) as { token: string };
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.url}/?token=${encodeURIComponent(token)}`);
    const item = (sessionId: string) => page.locator(`.session-item[data-session-id="${sessionId}"]`);
    await item(acme).waitFor({ timeout: 5_000 });
    expect(await item(globex).count()).toBe(0);
    expect(new URL(page.url()).search).toBe("");
    expect(await page.evaluate(() => localStorage.getItem("agent-runtime.apiKey"))).toBeNull();
    // A reload keeps the token for this tab.
    await page.reload();
    await item(acme).waitFor({ timeout: 5_000 });
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    const created = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
    const stored = (await (await admin(`/sessions/${created}`)).json()) as { tenantId?: string };
    expect(stored.tenantId).toBe("acme");
    await page.close();
  });
});

describe("Studio honours the architectures' capabilities", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    const limited = {
      ...createOpenCodeArchitecture(),
      capabilities: {
        thinking: true,
        subagents: false,
        permissions: false,
        nativeResume: false,
        toolRestriction: false,
        skills: false,
        commands: false,
      },
    };
    server = await startTestServer({
      script,
      studio: true,
      runtime: { architectures: [createClaudeAgentSdkArchitecture(), limited] },
    });
    browser = await launchChromium(CHROMIUM_ARGS);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it("offers 'ask' only where permissions are supported and names what a session's agent cannot do", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.url);
    const ask = page.getByLabel("Ask before each tool call");
    await ask.waitFor();
    await page.getByLabel("OpenCode").check();
    await expect.poll(() => ask.count()).toBe(0);
    await page.getByLabel("Claude Agent SDK (Claude Code)").check();
    await ask.waitFor();

    await page.getByLabel("OpenCode").check();
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    const limits = page.getByTestId("capability-limits");
    await limits.waitFor();
    expect(await limits.textContent()).toContain("forgets earlier turns when its sandbox restarts");
    expect(await limits.textContent()).toContain("no subagents");
    expect(await limits.textContent()).toContain("offers its own tools, not only the profile's");
    expect(await limits.textContent()).toContain("no skills");
    expect(await limits.textContent()).toContain("no profile commands");
    await shot(page, "desktop-capability-limits");
    const sessionId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
    const created = (await (await fetch(`${server.url}/sessions/${sessionId}`)).json()) as {
      architecture: string;
      sessionOptions: { permissions?: unknown };
    };
    expect(created.architecture).toBe("opencode");
    expect(created.sessionOptions.permissions).toBeUndefined();
    await page.close();
  });
});
