import { describe, expect, it } from "vitest";
import { BoundedLineReader } from "./bounded-line-reader.js";

function reader(maxLineBytes: number) {
  const lines: string[] = [];
  let oversize = 0;
  const lineReader = new BoundedLineReader({
    maxLineBytes,
    onLine: (line) => lines.push(line),
    onOversize: () => {
      oversize += 1;
    },
  });
  return { lineReader, lines, oversize: () => oversize };
}

describe("BoundedLineReader", () => {
  it("splits lines across chunks, strips CRLF and keeps empty lines", () => {
    const { lineReader, lines } = reader(100);
    lineReader.push(Buffer.from("one\ntw"));
    lineReader.push(Buffer.from("o\r\n\nthr"));
    lineReader.push(Buffer.from("ee\r"));
    lineReader.push(Buffer.from("\n\r\nfour"));
    expect(lines).toEqual(["one", "two", "", "three", ""]);
    lineReader.end();
    expect(lines).toEqual(["one", "two", "", "three", "", "four"]);
  });

  it("decodes a multi-byte character split between chunks", () => {
    const { lineReader, lines } = reader(100);
    const bytes = Buffer.from("é€😀\n");
    for (const byte of bytes) lineReader.push(Buffer.from([byte]));
    expect(lines).toEqual(["é€😀"]);
  });

  it("delivers a line of exactly maxLineBytes", () => {
    const { lineReader, lines, oversize } = reader(8);
    lineReader.push(Buffer.from("12345678\n1234"));
    lineReader.push(Buffer.from("5678\n"));
    expect(lines).toEqual(["12345678", "12345678"]);
    expect(oversize()).toBe(0);
  });

  it("reports a longer line once, as soon as it passes the bound, and delivers nothing after it", () => {
    const { lineReader, lines, oversize } = reader(8);
    lineReader.push(Buffer.from("ok\n1234"));
    lineReader.push(Buffer.from("5678"));
    expect(oversize()).toBe(0);
    expect(lineReader.pendingBytes).toBe(8);
    lineReader.push(Buffer.from("9"));
    expect(oversize()).toBe(1);
    expect(lineReader.pendingBytes).toBe(0);
    lineReader.push(Buffer.from("\nlater\n"));
    lineReader.push(Buffer.from("x".repeat(100)));
    lineReader.end();
    expect(lines).toEqual(["ok"]);
    expect(oversize()).toBe(1);
  });

  it("reports a long line that arrives complete in one chunk", () => {
    const { lineReader, lines, oversize } = reader(8);
    lineReader.push(Buffer.from("short\n123456789\nafter\n"));
    expect(lines).toEqual(["short"]);
    expect(oversize()).toBe(1);
  });

  it("never holds more than maxLineBytes of a line that does not end", () => {
    const { lineReader, oversize } = reader(1024);
    const chunk = Buffer.alloc(100, "a");
    let held = 0;
    for (let i = 0; i < 1000; i++) {
      lineReader.push(chunk);
      held = Math.max(held, lineReader.pendingBytes);
    }
    expect(held).toBeLessThanOrEqual(1024);
    expect(oversize()).toBe(1);
  });
});
