import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quotaOptions } from "./quota-cli-options.js";

describe("quotaOptions", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "quota-options-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the file, and the flags replace fields of its default", async () => {
    const file = join(dir, "quotas.json");
    await writeFile(
      file,
      JSON.stringify({ default: { sessions: 10, storedBytes: 1000 }, tenants: { acme: { sessions: 50 } } }),
    );
    expect(await quotaOptions({ quotasFile: file, quotaSessions: 20, quotaMessagesPerMinute: 30 })).toEqual({
      default: { sessions: 20, storedBytes: 1000, messagesPerMinute: 30 },
      tenants: { acme: { sessions: 50 } },
    });
    expect(await quotaOptions({})).toEqual({});
    expect(await quotaOptions({ quotaRunningSandboxes: 2 })).toEqual({ default: { runningSandboxes: 2 } });
  });

  it("refuses invalid values and files, naming them", async () => {
    await expect(quotaOptions({ quotaSessions: -1 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ tenants: { "no spaces": { sessions: 1 } } }));
    await expect(quotaOptions({ quotasFile: bad })).rejects.toThrow(/Quotas file .*bad\.json/);
    await expect(quotaOptions({ quotasFile: join(dir, "missing.json") })).rejects.toThrow(/missing\.json/);
  });
});
