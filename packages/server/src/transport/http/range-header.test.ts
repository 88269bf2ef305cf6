import { describe, expect, it } from "vitest";
import { requestedRange } from "./range-header.js";

describe("requestedRange", () => {
  const size = 1000;
  it.each([
    ["bytes=0-99", { start: 0, end: 99 }],
    ["bytes=900-", { start: 900, end: 999 }],
    ["bytes=-100", { start: 900, end: 999 }],
    ["bytes=990-5000", { start: 990, end: 999 }],
    ["bytes=0-9,10-19", { start: 0, end: 19 }],
  ])("selects one range for %s", (range, expected) => {
    expect(requestedRange({ range }, size)).toEqual(expected);
  });

  // A last position before the first is an invalid range, which RFC 9110 lets a server reject.
  it.each(["bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=9-1"])("finds %s unsatisfiable", (range) => {
    expect(requestedRange({ range }, size)).toBe("unsatisfiable");
  });

  it("finds every range of an empty file unsatisfiable", () => {
    expect(requestedRange({ range: "bytes=0-" }, 0)).toBe("unsatisfiable");
  });

  it.each([undefined, "bytes=abc", "items=0-5", "bytes=0-1,5-6", "bytes=0-1,-5"])(
    "serves the whole file for %s",
    (range) => {
      expect(requestedRange({ range }, size)).toBeUndefined();
    },
  );

  it("ignores Range when If-Range is sent (no validators are given out)", () => {
    expect(requestedRange({ range: "bytes=0-1", "if-range": '"x"' }, size)).toBeUndefined();
  });
});
