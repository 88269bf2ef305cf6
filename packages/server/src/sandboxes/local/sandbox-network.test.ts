import { describe, expect, it } from "vitest";
import { planSandboxNetwork } from "./sandbox-network.js";

describe("planSandboxNetwork", () => {
  it("serves loopback endpoints at their address and host names on their own loopback address, at their own port", () => {
    const plan = planSandboxNetwork({
      allow: ["127.0.0.1:4100", "api.example.test:443", "mcp.example.test:8443", "API.example.test:80"],
    });
    expect(plan.routes).toEqual([
      { address: "127.0.0.1", port: 4100, endpoint: "127.0.0.1:4100" },
      { address: "127.0.100.1", port: 443, endpoint: "api.example.test:443" },
      { address: "127.0.100.2", port: 8443, endpoint: "mcp.example.test:8443" },
      { address: "127.0.100.1", port: 80, endpoint: "api.example.test:80" },
    ]);
    expect(plan.hostsFile).toBe(
      "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.100.1\tapi.example.test\n127.0.100.2\tmcp.example.test\n",
    );
  });

  it("gives two spellings of one inside address and port one listener", () => {
    const plan = planSandboxNetwork({ allow: ["localhost:4100", "127.0.0.1:4100", "localhost:4100"] });
    expect(plan.routes).toEqual([{ address: "127.0.0.1", port: 4100, endpoint: "localhost:4100" }]);
  });

  it("refuses invalid ports, non-loopback IP literals and secrets for endpoints that are not allowed", () => {
    expect(() => planSandboxNetwork({ allow: ["example.test:0"] })).toThrow(/no valid port/);
    expect(() => planSandboxNetwork({ allow: ["example.test:65536"] })).toThrow(/no valid port/);
    expect(() => planSandboxNetwork({ allow: ["10.0.0.1:80"] })).toThrow(/not IPv4 loopback/);
    expect(() =>
      planSandboxNetwork({
        allow: ["127.0.0.1:1"],
        secrets: [{ endpoint: "127.0.0.1:2", header: "x", value: "v" }],
      }),
    ).toThrow(/not in network.allow/);
    expect(() =>
      planSandboxNetwork({
        allow: ["127.0.0.1:1"],
        secrets: [{ endpoint: "127.0.0.1:1", header: "x", value: "v", paths: ["/v1/../_mock"] }],
      }),
    ).toThrow(/not a plain absolute path/);
  });
});
