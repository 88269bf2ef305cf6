import type { IncomingHttpHeaders } from "node:http";
import type { JsonValue } from "./schema.js";

/** Header and query-parameter names whose values count as secrets. */
const SECRET_NAME = /auth|key|token|secret|cookie|session|password|credential/i;
/** Shorter values are not redacted (they would match ordinary text). */
const MIN_SECRET_LENGTH = 8;
export const REDACTED = "[redacted]";

/**
 * The secret values of a request: the values of headers and query
 * parameters with secret-like names (`authorization`, `x-api-key`,
 * `api-key`, `cookie`, `?key=`, …), whole and split into words (so the
 * token of `Bearer <token>` counts), longest first.
 */
export function secretsOf(headers: IncomingHttpHeaders, url: string): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (SECRET_NAME.test(name) && value !== undefined)
      values.push(...(Array.isArray(value) ? value : [value]));
  }
  for (const [name, value] of new URL(url, "http://localhost").searchParams) {
    if (SECRET_NAME.test(name)) values.push(value);
  }
  const secrets = new Set<string>();
  for (const value of values) {
    for (const part of [value, ...value.split(/[\s;,=]+/)]) {
      if (part.length >= MIN_SECRET_LENGTH) secrets.add(part);
    }
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret with `[redacted]`. */
export function redactText(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.replaceAll(secret, REDACTED);
  return result;
}

/** `redactText` applied to every string (not the keys) of a JSON value. */
export function redactJson(value: JsonValue, secrets: readonly string[]): JsonValue {
  if (secrets.length === 0) return value;
  if (typeof value === "string") return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => redactJson(item, secrets));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactJson(item, secrets)]));
  }
  return value;
}
