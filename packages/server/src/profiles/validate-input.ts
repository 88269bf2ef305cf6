import type { z } from "zod";
import { RuntimeError } from "../errors.js";

/**
 * Validates `value` against `schema` and returns the parsed output (defaults
 * applied). Throws `VALIDATION_FAILED` whose message names `source` and each
 * failing field, e.g. `profiles/coder/profile.json: name: Invalid input: expected string, received number`.
 */
export function validateInput<S extends z.ZodType>(schema: S, value: unknown, source: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new RuntimeError("VALIDATION_FAILED", `${source}: ${describeZodIssues(result.error)}`, {
    details: result.error.issues,
  });
}

/**
 * One entry per issue, `field.path: message` (or just `message` at the root),
 * joined by `; `.
 */
export function describeZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) =>
      issue.path.length === 0 ? issue.message : `${issue.path.map(String).join(".")}: ${issue.message}`,
    )
    .join("; ");
}
