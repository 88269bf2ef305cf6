import { createHash, randomBytes } from "node:crypto";
import { agentProfileSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { createOpenCodeArchitecture } from "../agents/opencode/opencode-architecture.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { claudeAnswer, type SessionHarness, useSessions } from "./__fixtures__/agent-session-harness.js";

const start = useSessions();
const sha256 = (bytes: Uint8Array | undefined | null) =>
  bytes ? createHash("sha256").update(bytes).digest("hex") : "missing";

/** Every byte value, then invalid UTF-8 sequences. */
const binary = new Uint8Array([...Array.from({ length: 256 }, (_, i) => i), 0xc3, 0x28, 0xff, 0xfe, 0xed]);

/** Counts stored file writes. */
function countingWrites(writes: string[]): (stored: PersistenceAdapter) => PersistenceAdapter {
  return (stored) =>
    new Proxy(stored, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== "saveWorkspaceFile" || typeof value !== "function") return value;
        return (sessionId: string, file: { path: string }) => {
          writes.push(file.path);
          return value.call(target, sessionId, file);
        };
      },
    });
}

async function turn(h: SessionHarness, content: string): Promise<void> {
  await h.completed(h.session.sendMessage(content).turnId);
  await h.session.sync();
}

describe("AgentSession workspace durability", () => {
  it("binary files survive a teardown byte for byte: restored into a new sandbox and served while none runs", async () => {
    const random = randomBytes(64 * 1024);
    const h = await start({
      runner: async (turn) => {
        if (turn.content !== "write") return;
        await turn.writeFile("bin/all-bytes.bin", binary);
        await turn.writeFile("random.bin", random);
        await turn.writeFile("empty", new Uint8Array());
      },
    });
    await turn(h, "write");
    await h.session.hibernate();
    expect(sha256(await h.session.readFile("bin/all-bytes.bin"))).toBe(sha256(binary));
    expect(sha256(await h.session.readFile("random.bin"))).toBe(sha256(random));
    expect((await h.session.readFile("empty")).byteLength).toBe(0);

    await turn(h, "next");
    const files = h.provider.lastSandbox.files;
    expect(h.provider.sandboxes).toHaveLength(2);
    expect(sha256(files.get("/workspace/bin/all-bytes.bin"))).toBe(sha256(binary));
    expect(sha256(files.get("/workspace/random.bin"))).toBe(sha256(random));
  });

  it("symbolic links survive a teardown as links; while no sandbox runs a read follows them inside the workspace", async () => {
    const h = await start({
      runner: async (turn) => {
        if (turn.content !== "write") return;
        await turn.writeFile("data/real.txt", "real content");
        await turn.writeLink("links/to-real", "../data/real.txt");
        await turn.writeLink("links/chain", "to-real");
        await turn.writeLink("out", "/etc/passwd");
        await turn.writeLink("escape", "../../etc/passwd");
        await turn.writeLink("dangling", "nowhere");
      },
    });
    await turn(h, "write");
    await h.session.hibernate();
    expect(h.session.snapshot().files.find((file) => file.path === "out")).toMatchObject({
      linkTarget: "/etc/passwd",
      size: "/etc/passwd".length,
    });
    expect(new TextDecoder().decode(await h.session.readFile("links/chain"))).toBe("real content");
    for (const path of ["out", "escape", "dangling"]) {
      await expect(h.session.readFile(path), path).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
    }

    await turn(h, "next");
    const sandbox = h.provider.lastSandbox;
    expect(h.provider.sandboxes).toHaveLength(2);
    expect(Object.fromEntries(sandbox.links)).toEqual({
      "/workspace/links/to-real": "../data/real.txt",
      "/workspace/links/chain": "to-real",
      "/workspace/out": "/etc/passwd",
      "/workspace/escape": "../../etc/passwd",
      "/workspace/dangling": "nowhere",
    });
    expect(sandbox.files.has("/workspace/out")).toBe(false);
  });

  it("a file indexed below a link is never restored through it; the session still starts", async () => {
    const h = await start({
      runner: async (turn) => {
        if (turn.content !== "write") return;
        await turn.writeFile("a/passwd", "inside");
        // A folder swapped for a link to /etc whose file was reported anyway (a race, or an older runner).
        await turn.writeLink("a", "/etc");
      },
    });
    await turn(h, "write");
    await h.session.hibernate();
    await turn(h, "next");
    const sandbox = h.provider.lastSandbox;
    expect(h.provider.sandboxes).toHaveLength(2);
    expect(sandbox.links.get("/workspace/a")).toBe("/etc");
    expect(sandbox.files.has("/workspace/a/passwd")).toBe(false);
    expect(h.errors()).toEqual([]);
  });

  it("stores a file again only when its content changed", async () => {
    const writes: string[] = [];
    const h = await start({
      persistence: countingWrites(writes),
      runner: async (turn) => {
        await turn.writeFile("same.txt", "unchanged");
        await turn.writeFile("changing.txt", turn.content);
      },
    });
    await turn(h, "one");
    await turn(h, "two");
    expect(writes.filter((path) => path === "same.txt")).toHaveLength(1);
    expect(writes.filter((path) => path === "changing.txt")).toHaveLength(2);
  });

  it("a sync reads the changed files in one batch from the sandbox", async () => {
    const h = await start({
      runner: async (turn) => {
        for (let index = 0; index < 50; index++)
          await turn.writeFile(`f/${index}.txt`, `${turn.content} ${index}`);
      },
    });
    await turn(h, "first");
    const sandbox = h.provider.lastSandbox;
    const batches: number[] = [];
    const readFiles = sandbox.readFiles.bind(sandbox);
    sandbox.readFiles = (paths) => {
      batches.push(paths.length);
      return readFiles(paths);
    };
    await turn(h, "second");
    expect(batches).toEqual([50]);
    expect(
      new TextDecoder().decode((await h.stored.loadWorkspaceFile(h.session.id, "f/7.txt")) ?? undefined),
    ).toBe("second 7");
  });

  it("a sync never reads past the quota: a file grown after it was reported is named, not read", async () => {
    const h = await start({
      deps: { maxPersistedFileBytes: 1024 },
      runner: async (turn) => {
        await turn.writeFile("grown.bin", "v1");
        // It grows after the report (an agent writing on), past the quota.
        const { sandbox } = turn.runner;
        await sandbox.writeFiles([
          { path: `${sandbox.workspaceDir}/grown.bin`, content: randomBytes(64 * 1024) },
        ]);
      },
    });
    await turn(h, "grow");
    expect(await h.stored.loadWorkspaceFile(h.session.id, "grown.bin")).toBeNull();
    expect(h.errors()).toEqual([expect.stringMatching(/^STORAGE_QUOTA: .*grown\.bin/)]);
  });

  it("a file over the quota is named in a STORAGE_QUOTA error, and its older stored copy never comes back", async () => {
    const h = await start({
      deps: { maxPersistedFileBytes: 1024 },
      runner: async (turn) => {
        await turn.writeFile("grows.bin", turn.content === "small" ? "v1" : randomBytes(4096));
      },
    });
    await turn(h, "small");
    expect(await h.stored.loadWorkspaceFile(h.session.id, "grows.bin")).not.toBeNull();
    await turn(h, "large");
    expect(h.errors()).toEqual([expect.stringMatching(/^STORAGE_QUOTA: .*grows\.bin/)]);
    expect(await h.stored.loadWorkspaceFile(h.session.id, "grows.bin")).toBeNull();
    await h.session.hibernate();
    await turn(h, "after");
    expect(new TextDecoder().decode(h.provider.lastSandbox.files.get("/workspace/grows.bin"))).not.toBe("v1");
  });

  it("after a crash, a sandbox that kept its workspace is the truth: unsynced files are indexed and stored, none overwritten", async () => {
    let step = 0;
    const h = await start({
      keepWorkspace: true,
      runner: async (turn) => {
        step += 1;
        if (step === 1) await turn.writeFile("a.txt", "v1");
        if (step === 2) {
          await turn.writeFile("a.txt", "v2");
          await turn.writeFile("new.bin", binary);
        }
        turn.agent(...claudeAnswer(`step ${step}`));
      },
    });
    await turn(h, "first");
    // The second turn's files reach the sandbox, but the server dies before any sync.
    await h.completed(h.session.sendMessage("second").turnId);
    const reloaded = await h.crashAndReload();
    try {
      await reloaded.completed(reloaded.session.sendMessage("third").turnId);
      await reloaded.session.sync();
      const files = reloaded.provider.lastSandbox.files;
      expect(new TextDecoder().decode(files.get("/workspace/a.txt"))).toBe("v2");
      expect(reloaded.session.snapshot().files.map((file) => file.path)).toEqual(["a.txt", "new.bin"]);
      expect(sha256(await reloaded.stored.loadWorkspaceFile(reloaded.session.id, "new.bin"))).toBe(
        sha256(binary),
      );
      expect(
        new TextDecoder().decode(
          (await reloaded.stored.loadWorkspaceFile(reloaded.session.id, "a.txt")) ?? undefined,
        ),
      ).toBe("v2");
    } finally {
      await reloaded.session.kill();
    }
  });

  it("a turn that ran when the server died is closed with SERVER_RESTARTED on load; the next message works", async () => {
    const h = await start({ runner: (turn) => (turn.content === "hang" ? turn.interrupted : undefined) });
    const { turnId } = h.session.sendMessage("hang");
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "running");
    await h.session.sync();
    const reloaded = await h.crashAndReload();
    try {
      // Said on load, before anyone listened: a client gets it by resuming from its last seq.
      const resumed = reloaded.session.resume(h.session.log.lastSeq);
      const events = resumed.kind === "events" ? resumed.events : [];
      expect(events.filter((event) => event.type === "error")).toEqual([
        expect.objectContaining({ code: "SERVER_RESTARTED" }),
      ]);
      expect(events.find((event) => event.type === "session:turn:completed")).toMatchObject({
        turnId,
        stopReason: "error",
      });
      expect(reloaded.session.snapshot().blocks.at(-1)).toMatchObject({
        type: "error",
        code: "SERVER_RESTARTED",
      });
      const next = reloaded.session.sendMessage("hello");
      expect(next.queued).toBe(false);
      expect(await reloaded.completed(next.turnId)).toMatchObject({ stopReason: "end_turn" });
    } finally {
      await reloaded.session.kill();
    }
  });

  it("a kept workspace whose restore never completed is not trusted: the stored files it lacks come back", async () => {
    const h = await start({
      keepWorkspace: true,
      runner: async (turn) => {
        if (turn.content !== "write") return;
        await turn.writeFile("a.txt", "a");
        await turn.writeFile("b.txt", "b");
      },
    });
    await turn(h, "write");
    await h.session.hibernate();
    // What a start that failed half-way through its restore leaves: some files, and no mark of completion.
    const left = h.provider.lastSandbox.files;
    for (const path of [...left.keys()]) if (path.includes("workspace-restored")) left.delete(path);
    left.delete("/workspace/b.txt");
    await turn(h, "next");
    expect(new TextDecoder().decode(h.provider.lastSandbox.files.get("/workspace/b.txt"))).toBe("b");
    expect(h.session.snapshot().files.map((file) => file.path)).toEqual(["a.txt", "b.txt"]);
    expect(await h.stored.loadWorkspaceFile(h.session.id, "b.txt")).not.toBeNull();
  });

  it("untracked paths: the profile's (or .git and node_modules) reach the watcher and are refused by the files API", async () => {
    const byDefault = await start();
    for (const path of [".git/config", "node_modules/x/index.js", ".claude/settings.json"]) {
      await expect(byDefault.session.writeFile(path, "x"), path).rejects.toMatchObject({
        code: "INVALID_PATH",
      });
    }
    await byDefault.completed(byDefault.session.sendMessage("hello").turnId);
    expect(byDefault.provider.lastSandbox.runners[0]?.config.watchIgnore).toEqual([".git", "node_modules"]);

    const own = await start({
      deps: {
        profile: agentProfileSchema.parse({
          id: "test",
          name: "Test",
          untrackedPaths: ["dist", "build/out"],
        }),
      },
    });
    await own.session.writeFile(".git/config", "[core]\n");
    await expect(own.session.writeFile("build/out/app.js", "x")).rejects.toMatchObject({
      code: "INVALID_PATH",
    });
    await expect(own.session.deleteFile("dist")).rejects.toMatchObject({ code: "INVALID_PATH" });
    await own.completed(own.session.sendMessage("hello").turnId);
    expect(own.provider.lastSandbox.runners[0]?.config.watchIgnore).toEqual(["dist", "build/out"]);
    expect(own.session.snapshot().files.map((file) => file.path)).toEqual([".git/config"]);

    // OpenCode's runtime-owned configuration is not the API's to replace.
    const openCode = await start({ deps: { architecture: createOpenCodeArchitecture() } });
    await expect(openCode.session.writeFile("opencode.json", "{}")).rejects.toMatchObject({
      code: "INVALID_PATH",
    });
  });

  it("while no sandbox runs, a write keys files by one spelling and refuses what a file system would", async () => {
    const h = await start();
    await h.session.writeFile("a//b/", "1");
    await h.session.writeFile("a/b", "2");
    await h.session.writeFile("dy/child", "child");
    await h.session.writeFile("fx", "file");
    await expect(h.session.writeFile("dy", "file over a folder")).rejects.toMatchObject({
      code: "INVALID_PATH",
    });
    await expect(h.session.writeFile("fx/child", "below a file")).rejects.toMatchObject({
      code: "INVALID_PATH",
    });
    expect(h.session.snapshot().files.map((file) => file.path)).toEqual(["a/b", "dy/child", "fx"]);
    expect(new TextDecoder().decode(await h.session.readFile("a//b"))).toBe("2");
    await h.session.deleteFile("./dy//child");
    expect(h.session.snapshot().files.map((file) => file.path)).toEqual(["a/b", "fx"]);
  });
});
