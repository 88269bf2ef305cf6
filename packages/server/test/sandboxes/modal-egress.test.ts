import { describe, expect, it } from "vitest";
import { createModalSandboxProvider as exported } from "../../src/index.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { fakeModalProvider } from "./modal-fake-client.js";

/*
 * No silent fallback on egress or the model key: the provider declares a
 * network policy, so the runtime hands it the policy (and never the key in
 * the sandbox's environment); the policy becomes Modal's allow-lists (the
 * key proxy itself: modal-key-proxy.test.ts), and what Modal cannot honour
 * `create` refuses before anything is created.
 */
describe("Modal provider: the package's export", () => {
  it("is exported by @agent-runtime/server, as the docs import it", () => {
    expect(exported).toBe(createModalSandboxProvider);
  });
});

describe("Modal provider: egress", () => {
  const withKey = (endpoint: string) => ({
    allow: [endpoint],
    secrets: [{ endpoint, header: "x-api-key", value: "sk-real", tls: true }],
  });
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (reason: unknown) => reason as Error & { code?: string },
    );

  it("refuses a policy with a key when the runner bundle brings no key proxy, before any sandbox exists", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null });
    const error = await failure(
      provider.create({
        name: "s",
        env: { ANTHROPIC_BASE_URL: "http://api.anthropic.com:443" },
        network: withKey("api.anthropic.com:443"),
      }),
    );
    expect(error).toMatchObject({ code: "SANDBOX_FAILED" });
    expect(error?.message).toContain("--egress open");
    expect(error?.message).toContain("npm run build");
    expect(error?.message).not.toContain("sk-real");
    expect(modal.createRequests).toEqual([]);
  });

  it("maps the policy's hosts onto Modal's allow-lists: names as domains, IP addresses as single-address CIDRs", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null });
    await provider.create({
      name: "s",
      network: {
        allow: ["mcp.example.com:8443", "MCP.example.com:443", "203.0.113.7:443", "[2001:db8::1]:443"],
      },
    });
    const params = modal.createRequests[0]!.params;
    expect(params.outboundDomainAllowlist).toEqual(["mcp.example.com"]);
    expect(params.outboundCidrAllowlist).toEqual(["203.0.113.7/32", "2001:db8::1/128"]);
    expect(params).not.toHaveProperty("blockNetwork");
  });

  it.each([
    ["a loopback endpoint (on Modal, the sandbox itself)", withKey("127.0.0.1:4100"), {}, "loopback"],
    ["localhost", { allow: ["localhost:8080"] }, {}, "loopback"],
    ["a key for an endpoint given by IP address", withKey("203.0.113.7:443"), {}, "host name"],
    [
      "a host the provider's own allow-list does not admit",
      withKey("api.anthropic.com:443"),
      { allowDomains: ["example.com"] },
      "does not admit api.anthropic.com",
    ],
    [
      "an address outside the provider's CIDRs",
      { allow: ["198.51.100.1:443"] },
      { allowCidrs: ["203.0.113.0/24"] },
      "does not admit 198.51.100.1",
    ],
    [
      "anything when the provider blocks all egress",
      withKey("api.anthropic.com:443"),
      { blockAll: true },
      "does not admit",
    ],
  ])("refuses %s, before any call to Modal", async (_what, network, providerNetwork, reason) => {
    const { modal, provider } = fakeModalProvider({ network: providerNetwork });
    const error = await failure(provider.create({ name: "s", network }));
    expect(error).toMatchObject({ code: "SANDBOX_FAILED" });
    expect(error?.message).toContain("cannot honour this sandbox's network policy");
    expect(error?.message).toContain(reason);
    expect(error?.message).not.toContain("sk-real");
    expect(modal.credentials).toEqual([]);
    expect(modal.createRequests).toEqual([]);
  });

  it("narrows the provider's allow-lists to what the policy needs", async () => {
    const { modal, provider } = fakeModalProvider({
      runnerBundle: null,
      network: { allowDomains: ["*.example.com"], allowCidrs: ["203.0.113.0/24"] },
    });
    await provider.create({ name: "s", network: { allow: ["mcp.example.com:443", "203.0.113.9:80"] } });
    expect(modal.createRequests[0]!.params).toMatchObject({
      outboundDomainAllowlist: ["mcp.example.com"],
      outboundCidrAllowlist: ["203.0.113.9/32"],
    });
  });

  it("honours a policy that allows nothing by blocking the sandbox's network, over the provider's allow-lists", async () => {
    const { modal, provider } = fakeModalProvider({
      runnerBundle: null,
      network: { allowDomains: ["example.com"], allowCidrs: ["10.0.0.0/8"] },
    });
    await provider.create({ name: "s", network: { allow: [] } });
    const params = modal.createRequests[0]!.params;
    expect(params.blockNetwork).toBe(true);
    expect(params).not.toHaveProperty("outboundDomainAllowlist");
    expect(params).not.toHaveProperty("outboundCidrAllowlist");
  });

  it("applies the provider's own allow-lists when the runtime sends no policy (egress open)", async () => {
    const { modal, provider } = fakeModalProvider({
      runnerBundle: null,
      network: { allowDomains: ["api.anthropic.com"] },
    });
    await provider.create({ name: "s", env: { ANTHROPIC_API_KEY: "sk-open" } });
    expect(modal.createRequests[0]!.params).toMatchObject({
      outboundDomainAllowlist: ["api.anthropic.com"],
      env: { ANTHROPIC_API_KEY: "sk-open" },
    });
  });
});
