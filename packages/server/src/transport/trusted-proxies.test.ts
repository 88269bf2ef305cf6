import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientAddress, trustFunction } from "./trusted-proxies.js";

/** A request from `peer` carrying `forwardedFor` as its `X-Forwarded-For`. */
const request = (peer: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress: peer },
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  }) as unknown as IncomingMessage;

describe("trusted proxies", () => {
  it("trusts no proxy without a setting, or with false: the peer's address counts", () => {
    expect(trustFunction(undefined)).toBeUndefined();
    expect(trustFunction(false)).toBeUndefined();
    expect(clientAddress(request("10.0.0.5", "203.0.113.1"), undefined)).toBe("10.0.0.5");
  });

  it("takes comma-separated addresses and ranges, and the names of ranges", () => {
    const trust = trustFunction("10.0.0.0/8, loopback");
    expect(clientAddress(request("10.0.0.5", "203.0.113.1"), trust)).toBe("203.0.113.1");
    expect(clientAddress(request("127.0.0.1", "203.0.113.1"), trust)).toBe("203.0.113.1");
    // Read from the peer backwards: the first address that is not a trusted proxy is the client.
    expect(clientAddress(request("10.0.0.5", "198.51.100.7, 203.0.113.1, 10.0.0.9"), trust)).toBe(
      "203.0.113.1",
    );
    // A peer that is no trusted proxy is the client, whatever it forwards.
    expect(clientAddress(request("192.0.2.1", "203.0.113.1"), trust)).toBe("192.0.2.1");
  });

  it("takes a hop count, and true for every hop", () => {
    expect(clientAddress(request("10.0.0.5", "198.51.100.7, 203.0.113.1"), trustFunction(1))).toBe(
      "203.0.113.1",
    );
    expect(clientAddress(request("10.0.0.5", "198.51.100.7, 203.0.113.1"), trustFunction(true))).toBe(
      "198.51.100.7",
    );
  });

  it("throws for an address that does not parse", () => {
    expect(() => trustFunction("not-an-address")).toThrow(/invalid IP address/);
  });
});
