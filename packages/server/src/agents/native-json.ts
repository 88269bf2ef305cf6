/** A JSON object from an agent's native output whose fields are not checked yet. */
export type Json = Record<string, unknown>;

/** True for a plain JSON object (not `null`, not an array). */
export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value` when it is a string, else `undefined`. */
export function stringOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The listed fields of `source` that are set, in the order of `keys`. */
export function pick(source: Json, keys: readonly string[]): Json {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}

/** A finite positive number as it is; anything else (missing, negative, NaN, not a number) as 0. */
export function nonNegative(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}
