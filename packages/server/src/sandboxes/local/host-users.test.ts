import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HostUsers, unreachableFolders } from "./host-users.js";

describe("HostUsers", () => {
  let root: string;
  const folder = async (name: string) => {
    const dir = join(root, name);
    await mkdir(dir);
    return dir;
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "host-users-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("gives each sandbox folder a uid of its own and keeps it across server restarts", async () => {
    const users = new HostUsers(root, { first: 5000, count: 10 }, 0);
    const [a, b] = [await folder("a"), await folder("b")];
    const [uidA, uidB] = [await users.of(a), await users.of(b)];
    expect(users.distinct).toBe(true);
    expect(uidA).not.toBe(uidB);
    expect(await users.of(a)).toBe(uidA);
    // A new server process reads what the folders recorded and hands out neither again.
    const restarted = new HostUsers(root, { first: 5000, count: 10 }, 0);
    expect(await restarted.of(b)).toBe(uidB);
    const c = await restarted.of(await folder("c"));
    expect([uidA, uidB]).not.toContain(c);
  });

  it("reuses the uid of a removed folder, and says so when the range is used up", async () => {
    const users = new HostUsers(root, { first: 5000, count: 2 }, 0);
    const [a, b] = [await folder("a"), await folder("b")];
    const uidA = await users.of(a);
    await users.of(b);
    await expect(users.of(await folder("c"))).rejects.toMatchObject({ code: "SANDBOX_FAILED" });
    await rm(a, { recursive: true });
    await users.release(a);
    expect(await users.of(await folder("d"))).toBe(uidA);
  });

  it("runs every sandbox as the server's own uid when the server is not root", async () => {
    const users = new HostUsers(root, { first: 5000, count: 10 }, 1234);
    expect(users.distinct).toBe(false);
    expect(await users.of(await folder("a"))).toBe(1234);
  });
});

describe("unreachableFolders", () => {
  it("names the folders on the way that a user cannot enter", async () => {
    const root = await mkdtemp(join(tmpdir(), "reach-"));
    try {
      const inner = join(root, "inner");
      await mkdir(inner);
      await chmod(root, 0o700);
      expect(unreachableFolders([inner], 5000)).toEqual([root]);
      await chmod(root, 0o711);
      expect(unreachableFolders([inner], 5000)).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
