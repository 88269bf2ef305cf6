import { describe, expect, it } from "vitest";
import { planSandboxNetwork } from "./sandbox-network.js";

describe("planSandboxNetwork", () => {
  it("serves loopback endpoints at their address and host names on their own loopback address", () => {
    const plan = planSandboxNetwork(
      { allow: ["127.0.0.1:4100", "api.example.test:443", "mcp.example.test:8443"] },
      "/node",
      "/bridge.js",
    );
    expect(plan.commandPrefix).toEqual([
      "/node",
      "/bridge.js",
      expect.stringMatching(/egress\.sock$/),
      "127.0.0.1:4100=127.0.0.1:4100",
      // The sandbox user cannot bind below 1024: 443 is served at 10443 inside.
      "127.0.100.1:10443=api.example.test:443",
      "127.0.100.2:8443=mcp.example.test:8443",
      "--",
    ]);
    expect(plan.hostsFile).toContain("127.0.100.1\tapi.example.test");
  });

  it("refuses non-loopback IP literals and secrets for endpoints that are not allowed", () => {
    expect(() => planSandboxNetwork({ allow: ["10.0.0.1:80"] }, "/n", "/b")).toThrow(/not IPv4 loopback/);
    expect(() =>
      planSandboxNetwork(
        { allow: ["127.0.0.1:1"], secrets: [{ endpoint: "127.0.0.1:2", header: "x", value: "v" }] },
        "/n",
        "/b",
      ),
    ).toThrow(/not in network.allow/);
  });
});
