import { describe, expect, it } from "vitest";
import { planModalEgress } from "./modal-egress.js";

const OPEN = { blockAll: false };

describe("planModalEgress", () => {
  it("serves every allowed port of a host with a key through the key proxy, and no other host", () => {
    const plan = planModalEgress(
      {
        allow: ["api.example.com:443", "api.example.com:8443", "mcp.example.com:443"],
        secrets: [{ endpoint: "api.example.com:443", header: "x-api-key", value: "sk", tls: true }],
      },
      OPEN,
    );
    expect(plan.params).toEqual({ outboundDomainAllowlist: ["api.example.com", "mcp.example.com"] });
    const address = plan.keyProxy!.hosts["api.example.com"]!;
    expect(address).toMatch(/^127\.\d+\.\d+\.1$/);
    expect(Object.keys(plan.keyProxy!.hosts)).toEqual(["api.example.com"]);
    expect(plan.keyProxy!.routes).toEqual([
      { address, port: 443, endpoint: "api.example.com:443" },
      { address, port: 8443, endpoint: "api.example.com:8443" },
    ]);
    expect(plan.keyProxy!.policy.secrets).toHaveLength(1);
  });

  it("starts no key proxy for a policy without keys", () => {
    expect(planModalEgress({ allow: ["mcp.example.com:443"] }, OPEN).keyProxy).toBeUndefined();
  });

  it.each([["[::1]:8080"], ["127.1.2.3:80"], ["localhost:80"]])(
    "refuses the loopback endpoint %s",
    (endpoint) => {
      expect(() => planModalEgress({ allow: [endpoint] }, OPEN)).toThrow(/loopback address/);
    },
  );

  it("refuses invalid endpoints and secret paths with VALIDATION_FAILED", () => {
    expect(() => planModalEgress({ allow: ["example.com"] }, OPEN)).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
    expect(() =>
      planModalEgress(
        {
          allow: ["example.com:443"],
          secrets: [{ endpoint: "example.com:443", header: "x", value: "v", paths: ["/v1/../x"] }],
        },
        OPEN,
      ),
    ).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
  });
});
