import type { z } from "zod";
import { errorMessage, RuntimeError } from "../../errors.js";
import { describeZodIssues } from "../../profiles/validate-input.js";

/**
 * Parses a JSON column and validates it with `validateStoredValue`. Throws
 * `PERSISTENCE_FAILED` naming `what` when the text is not valid JSON.
 */
export function parseStoredJson<S extends z.ZodType>(schema: S, text: string, what: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RuntimeError(
      "PERSISTENCE_FAILED",
      `${what} is corrupt: invalid JSON (${errorMessage(error)})`,
      {
        cause: error,
      },
    );
  }
  return validateStoredValue(schema, value, what);
}

/**
 * Checks a loaded value against a protocol schema and returns the parsed
 * value (schema defaults applied, fields the schema does not know dropped).
 * Throws `PERSISTENCE_FAILED` naming `what` and the invalid fields.
 */
export function validateStoredValue<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new RuntimeError("PERSISTENCE_FAILED", `${what} is corrupt: ${describeZodIssues(result.error)}`, {
      details: result.error.issues,
    });
  }
  return result.data;
}
