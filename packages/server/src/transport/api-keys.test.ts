import { describe, expect, it } from "vitest";
import { ApiKeyChecker, callerKey, parseApiKeyList, scopeOf } from "./api-keys.js";

describe("parseApiKeyList", () => {
  it("reads KEY as an admin key and TENANT:KEY as a tenant's key, skipping blanks", () => {
    expect(parseApiKeyList(" admin-1 , acme:k-acme,,globex:k:with:colons ,")).toEqual([
      "admin-1",
      { tenant: "acme", key: "k-acme" },
      { tenant: "globex", key: "k:with:colons" },
    ]);
    expect(parseApiKeyList("")).toEqual([]);
  });

  it("refuses a tenant id that is not one, naming the entry and not the key", () => {
    for (const list of ["ok,bad tenant:secret-1", "ok,:secret-1", `ok,${"t".repeat(65)}:secret-1`]) {
      expect(() => parseApiKeyList(list)).toThrow(/entry 2: the tenant/);
      try {
        parseApiKeyList(list);
      } catch (error) {
        expect(String(error)).not.toContain("secret-1");
      }
    }
  });
});

describe("ApiKeyChecker", () => {
  const checker = () =>
    new ApiKeyChecker(["root", { tenant: "acme", key: "k-acme" }, { tenant: "globex", key: "k-globex" }]);

  it("resolves an admin key, a tenant's key, and nothing else", () => {
    const keys = checker();
    expect(keys.required).toBe(true);
    expect(keys.resolve("root")).toMatchObject({ role: "admin" });
    expect(keys.resolve("k-acme")).toMatchObject({ role: "tenant", tenantId: "acme" });
    expect(keys.resolve("k-globex")).toMatchObject({ role: "tenant", tenantId: "globex" });
    for (const wrong of [undefined, "", "k-acm", "k-acmee", "acme:k-acme", "ROOT"])
      expect(keys.resolve(wrong)).toBeNull();
  });

  it("gives each key a stable id that is not the key, which rate limits count against", () => {
    const keys = checker();
    const caller = keys.resolve("k-acme")!;
    expect(caller.keyId).not.toContain("k-acme");
    expect(checker().resolve("k-acme")!.keyId).toBe(caller.keyId);
    expect(keys.resolve("root")!.keyId).not.toBe(caller.keyId);
    expect(callerKey(keys.resolve("k-acme"), "10.0.0.1")).toBe(`key:${caller.keyId}`);
    expect(callerKey(keys.resolve("nope"), "10.0.0.1")).toBe("ip:10.0.0.1");
  });

  it("accepts everyone as an admin when no key is configured", () => {
    const open = new ApiKeyChecker([]);
    expect(open.required).toBe(false);
    expect(open.resolve(undefined)).toMatchObject({ role: "admin" });
    expect(callerKey(open.resolve("anything"), "10.0.0.1")).toBe("ip:10.0.0.1");
  });

  it("refuses a key given to two callers, and entries that are not keys", () => {
    expect(() => new ApiKeyChecker(["same", { tenant: "acme", key: "same" }])).toThrow(
      /entry 2: the same key/,
    );
    expect(
      () =>
        new ApiKeyChecker([
          { tenant: "a", key: "same" },
          { tenant: "b", key: "same" },
        ]),
    ).toThrow(/two callers/);
    expect(new ApiKeyChecker(["same", "same"]).resolve("same")).toMatchObject({ role: "admin" });
    expect(() => new ApiKeyChecker([{ tenant: "no spaces", key: "k" }])).toThrow(/entry 1/);
    expect(() => new ApiKeyChecker([{ tenant: "acme", key: "" }])).toThrow(/entry 1/);
    expect(() => new ApiKeyChecker(["x".repeat(1025)])).toThrow(/entry 1/);
  });

  it("replaces every key at once, telling listeners, and keeps them when the new list is refused", () => {
    const keys = checker();
    const acme = keys.resolve("k-acme")!;
    let told = 0;
    keys.onReplace(() => told++);
    keys.replace(["root", { tenant: "acme", key: "k-acme-2" }]);
    expect(told).toBe(1);
    expect(keys.resolve("k-acme")).toBeNull();
    expect(keys.stillAccepts(acme)).toBe(false);
    expect(keys.resolve("k-acme-2")).toMatchObject({ role: "tenant", tenantId: "acme" });
    expect(keys.stillAccepts(keys.resolve("root")!)).toBe(true);
    // The same key given to another tenant reaches other sessions: no longer accepted for the old ones.
    const moved = keys.resolve("k-acme-2")!;
    keys.replace(["root", { tenant: "globex", key: "k-acme-2" }]);
    expect(keys.stillAccepts(moved)).toBe(false);
    expect(new ApiKeyChecker([]).stillAccepts({ role: "admin", keyId: "" })).toBe(true);

    expect(() => keys.replace([])).toThrow(/cannot be turned off/);
    expect(() => keys.replace([{ tenant: "bad tenant", key: "k" }])).toThrow(/entry 1/);
    expect(told).toBe(2);
    expect(keys.resolve("k-acme-2")).not.toBeNull();
    expect(() => new ApiKeyChecker([]).replace(["k"])).toThrow(/cannot be turned on/);
  });
});

describe("scopeOf", () => {
  it("reaches every session for an admin, one tenant's for a tenant, and narrows to given sessions", () => {
    expect(scopeOf({ role: "admin", keyId: "a" })).toBeUndefined();
    expect(scopeOf({ role: "tenant", tenantId: "acme", keyId: "t" })).toEqual({ tenantId: "acme" });
    expect(scopeOf({ role: "tenant", tenantId: "acme", keyId: "t", sessionIds: ["s1"] })).toEqual({
      tenantId: "acme",
      sessionIds: ["s1"],
    });
    expect(scopeOf({ role: "admin", keyId: "a", sessionIds: ["s1"] })).toEqual({ sessionIds: ["s1"] });
  });
});
