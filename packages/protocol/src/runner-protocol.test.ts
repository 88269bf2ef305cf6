import { describe, expect, it } from "vitest";
import { runnerOutputSchema } from "./runner-protocol.js";

const fileLine = (path: string) => ({ type: "file", event: "created", path });

describe("runner output schema", () => {
  it.each([
    ["a file name", "notes.txt"],
    ["a nested path", "src/deep/file.ts"],
    ["dot files", ".hidden/.env"],
    ["spaces and non-ASCII names", "name with spaces/…/é.md"],
    ["dots inside names", "a..b/c."],
    ["4096 bytes", "x".repeat(4096)],
  ])("accepts %s", (_label, path) => {
    expect(runnerOutputSchema.safeParse(fileLine(path)).success).toBe(true);
  });

  it.each([
    ["an empty path", ""],
    ["a climb out", "../../../etc/shadow"],
    ["a climb out from inside", "a/../../etc/shadow"],
    ["a trailing ..", "a/.."],
    ["..", ".."],
    ["an absolute path", "/etc/shadow"],
    ["a leading .", "./notes.txt"],
    ["a . segment", "a/./b"],
    [".", "."],
    ["an empty segment", "a//b"],
    ["a trailing slash", "a/"],
    ["a NUL byte", "a\0b"],
    ["4097 bytes", "x".repeat(4097)],
    ["4098 bytes in 2049 characters", "é".repeat(2049)],
  ])("rejects %s", (_label, path) => {
    expect(runnerOutputSchema.safeParse(fileLine(path)).success).toBe(false);
  });

  it("bounds identifiers and truncates free text", () => {
    const huge = "x".repeat(100_000);
    expect(
      runnerOutputSchema.safeParse({ type: "permission_request", requestId: "r", toolName: huge, input: {} })
        .success,
    ).toBe(false);
    expect(
      runnerOutputSchema.safeParse({
        type: "permission_request",
        requestId: huge,
        toolName: "Bash",
        input: {},
      }).success,
    ).toBe(false);
    expect(
      runnerOutputSchema.safeParse({ type: "turn_end", turnId: huge, stopReason: "end_turn" }).success,
    ).toBe(false);
    for (const line of [
      { type: "log", level: "info", message: huge },
      { type: "fatal", message: huge },
      { type: "turn_end", turnId: "t", stopReason: "error", error: huge },
    ]) {
      const parsed = runnerOutputSchema.parse(line);
      const text = JSON.stringify(parsed);
      expect(text.length).toBeLessThan(20_000);
    }
  });
});
