import { describe, expect, it } from "vitest";
import { isObject, nonNegative, pick, stringOf } from "./native-json.js";

describe("native JSON fields", () => {
  it("tells plain objects from null, arrays and scalars", () => {
    expect([{}, { a: 1 }].map(isObject)).toEqual([true, true]);
    expect([null, [], "x", 1, undefined].map(isObject)).toEqual([false, false, false, false, false]);
  });

  it("reads strings only", () => {
    expect(stringOf("")).toBe("");
    expect(stringOf(1)).toBeUndefined();
  });

  it("picks the set fields in the order asked", () => {
    expect(pick({ a: 1, b: undefined, c: null, d: 2 }, ["d", "b", "c", "x"])).toEqual({ d: 2, c: null });
    expect(Object.keys(pick({ a: 1, d: 2 }, ["d", "a"]))).toEqual(["d", "a"]);
  });

  it("counts only finite positive numbers", () => {
    expect([3.5, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, "4", undefined].map(nonNegative)).toEqual([
      3.5, 0, 0, 0, 0, 0, 0,
    ]);
  });
});
