import type { FastifyInstance } from "fastify";
import { RuntimeError } from "../../errors.js";

/** The shape a JSON request body may have, checked on its text before it is parsed. */
export interface JsonLimits {
  /** Deepest nesting of arrays and objects. */
  readonly maxDepth: number;
  /** Most members and elements in all (counted as the commas between them). */
  readonly maxMembers: number;
}

/**
 * What every JSON request body must keep to: no route takes more than 5
 * levels or a few hundred values. Parsing cost grows with the number of
 * values far faster than with bytes (50,000 keys in 600 KB take V8 about
 * 90 ms), so the count is bounded as well as the size.
 */
export const JSON_BODY_LIMITS: JsonLimits = { maxDepth: 32, maxMembers: 4096 };

/**
 * The limit `text` exceeds, or `undefined`: counts brackets and commas
 * outside strings in one pass, without allocating, whether or not `text` is
 * valid JSON (an invalid body then fails to parse).
 */
export function exceededJsonLimit(text: string, limits: JsonLimits): "depth" | "members" | undefined {
  let depth = 0;
  let members = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c)
        index++; // `\`: the next character is escaped.
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      if (++depth > limits.maxDepth) return "depth";
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    } else if (code === 0x2c) {
      if (++members > limits.maxMembers) return "members";
    }
  }
  return undefined;
}

/**
 * Replaces fastify's `application/json` parser with the same parser (same
 * body limits, same prototype-poisoning protection) behind `JSON_BODY_LIMITS`:
 * a body nested too deep is refused with `JSON_TOO_DEEP`, one with too many
 * values with `PAYLOAD_TOO_LARGE`, before `JSON.parse` sees it, so neither
 * parsing nor validation, serialisation or storage ever walks such a value.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = body as string; // `parseAs: "string"`
    const exceeded = exceededJsonLimit(text, JSON_BODY_LIMITS);
    if (exceeded === "depth") {
      done(
        new RuntimeError("JSON_TOO_DEEP", `JSON body nested deeper than ${JSON_BODY_LIMITS.maxDepth} levels`),
        undefined,
      );
    } else if (exceeded === "members") {
      const message = `JSON body with more than ${JSON_BODY_LIMITS.maxMembers} members and elements`;
      done(new RuntimeError("PAYLOAD_TOO_LARGE", message), undefined);
    } else {
      parse(request, text, done);
    }
  });
}
