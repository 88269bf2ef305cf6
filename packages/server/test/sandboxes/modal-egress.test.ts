import { describe, expect, it } from "vitest";
import { createModalSandboxProvider as exported } from "../../src/index.js";
import {
  createModalSandboxProvider,
  MODAL_EGRESS_REFUSAL,
} from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { fakeModalProvider } from "./modal-fake-client.js";

/*
 * No silent fallback on egress or the model key: the provider declares a
 * network policy, so the runtime hands it the policy (and never the key in
 * the sandbox's environment); what Modal cannot honour, `create` refuses
 * before anything is created.
 */
describe("Modal provider: the package's export", () => {
  it("is exported by @agent-runtime/server, as the docs import it", () => {
    expect(exported).toBe(createModalSandboxProvider);
  });
});

describe("Modal provider: egress", () => {
  it("refuses a policy that keeps the model key out of the sandbox, before any call to Modal", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null });
    const error = await provider
      .create({
        name: "s",
        env: { ANTHROPIC_BASE_URL: "http://api.anthropic.com:443" },
        network: {
          allow: ["api.anthropic.com:443"],
          secrets: [{ endpoint: "api.anthropic.com:443", header: "x-api-key", value: "sk-real", tls: true }],
        },
      })
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(error).toMatchObject({ code: "SANDBOX_FAILED", message: MODAL_EGRESS_REFUSAL });
    expect(MODAL_EGRESS_REFUSAL).toContain("--egress open");
    expect(String((error as Error).message)).not.toContain("sk-real");
    expect(modal.credentials).toEqual([]);
    expect(modal.createRequests).toEqual([]);
  });

  it("refuses an allow-list it cannot enforce per port", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null });
    await expect(
      provider.create({ name: "s", network: { allow: ["mcp.example.com:8443"] } }),
    ).rejects.toMatchObject({ code: "SANDBOX_FAILED", message: MODAL_EGRESS_REFUSAL });
    expect(modal.createRequests).toEqual([]);
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
