import { describe, expect, it } from "vitest";
import { SharedLookups } from "./shared-lookups.js";

const lookupOnce = (lookups: SharedLookups, hostname: string) =>
  new Promise<string>((resolve, reject) =>
    lookups.lookup(hostname, {}, (error, address) => (error ? reject(error) : resolve(String(address)))),
  );

describe("SharedLookups", () => {
  it("joins lookups in flight and reuses an answer until it expires; a failure is not kept", async () => {
    const asked: string[] = [];
    let fail = true;
    const lookups = new SharedLookups(async (hostname) => {
      asked.push(hostname);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (hostname === "flaky" && fail) throw Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" });
      return { address: "127.0.0.7", family: 4 };
    }, 50);
    const answers = await Promise.all(Array.from({ length: 100 }, () => lookupOnce(lookups, "mcp.test")));
    expect(new Set(answers)).toEqual(new Set(["127.0.0.7"]));
    expect(asked).toEqual(["mcp.test"]);
    await lookupOnce(lookups, "mcp.test");
    expect(asked).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await lookupOnce(lookups, "mcp.test");
    expect(asked).toHaveLength(2);

    await expect(lookupOnce(lookups, "flaky")).rejects.toThrow("ENOTFOUND");
    fail = false;
    expect(await lookupOnce(lookups, "flaky")).toBe("127.0.0.7");
  });
});
