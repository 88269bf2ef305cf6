import { describe, expect, it } from "vitest";
import { confinedSegments, resolveConfinedPath } from "./confined-path.js";
import { resolveAreaPath } from "./sandboxes/area-path.js";

/** Names that try to leave their folder or smuggle something past it. */
const traversalVectors = [
  "",
  ".",
  "./",
  "..",
  "../etc/passwd",
  "a/../../etc/passwd",
  "a/..",
  "a/../b",
  "./../x",
  "a//..//..//b",
  "/etc/passwd",
  "//etc/passwd",
  "a\0b",
  "a\0/../../etc",
  "x".repeat(4097),
  "é".repeat(2049),
  `${"y".repeat(256)}/z`,
  `${"é".repeat(128)}`,
];

describe("confinedSegments", () => {
  it("normalises empty and '.' segments away", () => {
    expect(confinedSegments("a/b.txt")).toEqual(["a", "b.txt"]);
    expect(confinedSegments("./a//b.txt/")).toEqual(["a", "b.txt"]);
    expect(confinedSegments("...")).toEqual(["..."]);
    expect(confinedSegments("a..b/.c")).toEqual(["a..b", ".c"]);
    expect(confinedSegments("y".repeat(255))).toEqual(["y".repeat(255)]);
    expect(confinedSegments("abc/".repeat(256))).toHaveLength(256);
    // A backslash is an ordinary character of a Linux name, never a separator.
    expect(confinedSegments("..\\..\\etc\\passwd")).toEqual(["..\\..\\etc\\passwd"]);
    expect(confinedSegments("a\\b")).toEqual(["a\\b"]);
  });

  it.each(traversalVectors)("rejects %j with INVALID_PATH", (path) => {
    expect(() => confinedSegments(path)).toThrow(expect.objectContaining({ code: "INVALID_PATH" }));
  });

  it("rejects values that are not strings", () => {
    expect(() => confinedSegments(undefined as unknown as string)).toThrow(
      expect.objectContaining({ code: "INVALID_PATH" }),
    );
  });

  it("quotes a long rejected path shortened", () => {
    const error = (() => {
      try {
        confinedSegments(`../${"z".repeat(5000)}`);
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error?.message.length).toBeLessThan(300);
  });
});

describe("resolveConfinedPath", () => {
  it("joins the canonical segments below the root", () => {
    expect(resolveConfinedPath("/workspace", "a/b.txt")).toBe("/workspace/a/b.txt");
    expect(resolveConfinedPath("/workspace", "./a//b.txt")).toBe("/workspace/a/b.txt");
  });
});

describe("resolveAreaPath", () => {
  const areas = { workspaceDir: "/workspace", homeDir: "/home/agent" };

  it("answers the area and the segments below it", () => {
    expect(resolveAreaPath(areas, "/workspace/./a//b")).toEqual({
      path: "/workspace/a/b",
      root: "/workspace",
      segments: ["a", "b"],
    });
    expect(resolveAreaPath(areas, "/home/agent/.claude/x.json").root).toBe("/home/agent");
  });

  it.each([
    ...traversalVectors.map((vector) => `/workspace/${vector}`),
    "relative.txt",
    "/workspace",
    "/workspace/",
    "/workspace-other/a",
    "/home/agentx/a",
    "/etc/passwd",
  ])("rejects %j with INVALID_PATH", (path) => {
    expect(() => resolveAreaPath(areas, path)).toThrow(expect.objectContaining({ code: "INVALID_PATH" }));
  });
});
