import { describe, expect, it } from "vitest";
import { decodeSessionListCursor, encodeSessionListCursor } from "./session-list-cursor.js";

describe("session list cursor", () => {
  it("names the position it was made from", () => {
    const position = { updatedAt: "2025-01-02T03:04:05.678Z", sessionId: 'ünï-cødé "id"' };
    const cursor = encodeSessionListCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeSessionListCursor(cursor)).toEqual(position);
  });

  it("refuses anything it did not make with VALIDATION_FAILED", () => {
    const made = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    for (const cursor of [
      "",
      "garbage",
      "%%%",
      made({ updatedAt: "x", sessionId: "y" }),
      made(["x"]),
      made(["x", "y", "z"]),
      made(["x", 1]),
      made(["", "y"]),
      made(["x", "y".repeat(201)]),
    ]) {
      expect(() => decodeSessionListCursor(cursor), cursor).toThrow(
        expect.objectContaining({ code: "VALIDATION_FAILED" }),
      );
    }
  });
});
