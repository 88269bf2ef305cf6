import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { Caller } from "./api-keys.js";
import { TokenAuthority } from "./auth-tokens.js";

const SECRET = "a-test-secret-of-at-least-32-bytes!!";
const INVALID = { ok: false, reason: "invalid" };

/** The caller `token` verifies as; fails the test when it does not verify. */
async function callerOf(authority: TokenAuthority, token: string): Promise<Caller> {
  const verdict = await authority.verify(token);
  if (!verdict.ok) throw new Error(`token refused: ${verdict.reason}`);
  return verdict.caller;
}
const admin: Caller = { role: "admin", keyId: "admin-key" };
const tenantA: Caller = { role: "tenant", tenantId: "a", keyId: "key-a" };

describe("TokenAuthority", () => {
  const authority = new TokenAuthority({ secret: SECRET });

  it("mints a token that verifies as its scope: tenant, sessions, read-only, expiry, the minter's key id", async () => {
    const { token, expiresAt } = await authority.mint(tenantA, {
      sessionIds: ["s1"],
      readOnly: true,
      ttlSeconds: 60,
    });
    const caller = await callerOf(authority, token);
    expect(caller).toEqual({
      role: "tenant",
      tenantId: "a",
      keyId: "key-a",
      sessionIds: ["s1"],
      readOnly: true,
      expiresAt: Date.parse(expiresAt),
    });
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(55_000);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it("a tenant's key gets its own tenant whatever it omits, and is refused another or wider scope", async () => {
    const own = await callerOf(authority, (await authority.mint(tenantA, {})).token);
    expect(own).toMatchObject({ role: "tenant", tenantId: "a" });
    await expect(authority.mint(tenantA, { tenant: "b" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const narrow: Caller = { ...tenantA, sessionIds: ["s1"], readOnly: true };
    await expect(authority.mint(narrow, { sessionIds: ["s2"], readOnly: true })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(authority.mint(narrow, { sessionIds: ["s1"] })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(authority.mint(admin, { ttlSeconds: 86_401 })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });

  it("an admin key mints for any tenant, or for every tenant", async () => {
    expect(await callerOf(authority, (await authority.mint(admin, { tenant: "b" })).token)).toMatchObject({
      role: "tenant",
      tenantId: "b",
    });
    expect(await callerOf(authority, (await authority.mint(admin, {})).token)).toMatchObject({
      role: "admin",
    });
  });

  it("refuses tampered, foreign, expired and malformed tokens", async () => {
    const { token } = await authority.mint(tenantA, {});
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const widened = Buffer.from(JSON.stringify({ ...claims, tenant: "b" })).toString("base64url");
    expect(await authority.verify(`${header}.${widened}.${signature}`)).toEqual(INVALID);
    expect(await authority.verify(`${header}.${payload}.${signature.slice(0, -2)}AA`)).toEqual(INVALID);
    const other = new TokenAuthority({ secret: "another-secret-of-at-least-32-bytes!!" });
    expect(await other.verify(token)).toEqual(INVALID);
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${payload}.`;
    expect(await authority.verify(none)).toEqual(INVALID);
    expect(await authority.verify("not a token")).toEqual(INVALID);
    const expired = await new SignJWT({ tenant: "a" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("agent-runtime")
      .setAudience("agent-runtime")
      .setSubject("key-a")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 1)
      .sign(new TextEncoder().encode(SECRET));
    expect(await authority.verify(expired)).toEqual({ ok: false, reason: "expired" });
  });

  it("verifies tokens an application signs with its own key (JWKS), and only those", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "app-1", alg: "ES256" };
    const withApp = new TokenAuthority({
      secret: SECRET,
      application: { jwks: { keys: [jwk] }, issuer: "my-app", audience: "agent-runtime" },
    });
    const sign = (issuer: string) =>
      new SignJWT({ tenant: "a", sessionIds: ["s1"] })
        .setProtectedHeader({ alg: "ES256", kid: "app-1" })
        .setIssuer(issuer)
        .setAudience("agent-runtime")
        .setSubject("user-42")
        .setExpirationTime("5m")
        .sign(privateKey);
    expect(await callerOf(withApp, await sign("my-app"))).toMatchObject({
      role: "tenant",
      tenantId: "a",
      sessionIds: ["s1"],
    });
    expect(await withApp.verify(await sign("someone-else"))).toEqual(INVALID);
    expect(await authority.verify(await sign("my-app"))).toEqual(INVALID);
  });
});
