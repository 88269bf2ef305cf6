import parseRange from "range-parser";
import type { ByteRange } from "../../sandboxes/sandbox-provider.js";

/**
 * What a `GET` of a file of `size` bytes answers for its `Range` and
 * `If-Range` headers (RFC 9110 §14): `undefined` for the whole file (no
 * `Range`, or one the server may ignore: malformed, another unit, several
 * ranges once overlapping and adjacent ones are merged, or any `If-Range`,
 * since the server gives out no validators), `"unsatisfiable"` for ranges
 * that select no byte or whose last position comes before the first (416),
 * else the one range, clamped to the file.
 */
export function requestedRange(
  headers: { range?: string | undefined; "if-range"?: string | undefined },
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  const { range } = headers;
  if (range === undefined || headers["if-range"] !== undefined) return undefined;
  const ranges = parseRange(size, range, { combine: true });
  if (ranges === -1) return "unsatisfiable";
  if (ranges === -2 || ranges.type !== "bytes" || ranges.length !== 1) return undefined;
  const { start, end } = ranges[0]!;
  return { start, end };
}
