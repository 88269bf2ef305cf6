import { describe, expect, it } from "vitest";
import { exceededJsonLimit } from "./json-body-parser.js";

const depth = (maxDepth: number) => ({ maxDepth, maxMembers: 1_000_000 });

describe("exceededJsonLimit", () => {
  it("counts nested arrays and objects", () => {
    expect(exceededJsonLimit("[[[]]]", depth(3))).toBeUndefined();
    expect(exceededJsonLimit("[[[[]]]]", depth(3))).toBe("depth");
    expect(exceededJsonLimit('{"a":{"b":[{"c":1}]}}', depth(4))).toBeUndefined();
    expect(exceededJsonLimit('{"a":{"b":[{"c":{}}]}}', depth(4))).toBe("depth");
  });

  it("counts depth, not the number of brackets", () => {
    expect(exceededJsonLimit(`[${"[],".repeat(10_000)}[]]`, depth(2))).toBeUndefined();
  });

  it("counts members and elements", () => {
    const limits = { maxDepth: 10, maxMembers: 3 };
    expect(exceededJsonLimit('{"a":1,"b":[1,2],"c":3}', limits)).toBeUndefined();
    expect(exceededJsonLimit('{"a":1,"b":[1,2,3],"c":3}', limits)).toBe("members");
    expect(exceededJsonLimit(`{"a":"${",".repeat(100)}"}`, limits)).toBeUndefined();
  });

  it("ignores brackets and commas inside strings, escaped quotes included", () => {
    expect(
      exceededJsonLimit(`{"a":"${"[{,".repeat(1000)}"}`, { maxDepth: 1, maxMembers: 0 }),
    ).toBeUndefined();
    expect(exceededJsonLimit(`{"a":"\\"${"[".repeat(1000)}\\\\"}`, depth(1))).toBeUndefined();
    expect(exceededJsonLimit(`{"a":"\\\\","b":[[[]]]}`, depth(3))).toBe("depth");
  });

  it("takes scalars, empty and malformed text", () => {
    expect(exceededJsonLimit("", depth(1))).toBeUndefined();
    expect(exceededJsonLimit("42", depth(0))).toBeUndefined();
    expect(exceededJsonLimit("]]]]", depth(1))).toBeUndefined();
    expect(exceededJsonLimit('"unterminated [[[[', depth(1))).toBeUndefined();
  });
});
