import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.js";

describe("TokenBucket", () => {
  it("allows a burst, then refills at its rate up to the burst again", () => {
    let now = 0;
    const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, () => now);
    const take = (n: number) => Array.from({ length: n }, () => bucket.take()).filter(Boolean).length;
    expect(take(5)).toBe(3);
    now += 100;
    expect(take(5)).toBe(1);
    now += 250;
    expect(take(5)).toBe(2);
    now += 60_000;
    expect(take(10)).toBe(3);
  });

  it("keeps fractions of a token between takes", () => {
    let now = 0;
    const bucket = new TokenBucket({ perSecond: 10, burst: 1 }, () => now);
    expect(bucket.take()).toBe(true);
    now += 50;
    expect(bucket.take()).toBe(false);
    now += 50;
    expect(bucket.take()).toBe(true);
  });
});
