import { errorResponseSchema } from "@agent-runtime/protocol";
import { expect } from "vitest";
import { z } from "zod";

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly requestId?: string };
}

/**
 * Expects `response` to be a 4xx `{error: {code, message, requestId}}` in
 * JSON, without a stack trace, with `status` and `code` when given. Returns
 * the body.
 */
export async function expectClientError(
  response: Response,
  expected: { status?: number; code?: string } = {},
): Promise<ErrorBody> {
  const text = await response.text();
  const what = `${response.status} ${text.slice(0, 300)}`;
  if (expected.status !== undefined) expect(response.status, what).toBe(expected.status);
  expect(response.status, what).toBeGreaterThanOrEqual(400);
  expect(response.status, what).toBeLessThan(500);
  expect(response.headers.get("content-type"), what).toContain("application/json");
  const body = JSON.parse(text) as ErrorBody;
  expect(isErrorBody(body), what).toBe(true);
  if (expected.code !== undefined) expect(body.error.code, what).toBe(expected.code);
  expect(text, what).not.toMatch(/\n\s+at /);
  return body;
}

/** The wire error shape (`errorResponseSchema`), with an upper-case code and a request id, both non-empty. */
const errorBodySchema = errorResponseSchema.extend({
  error: errorResponseSchema.shape.error.extend({
    code: z.string().regex(/^[A-Z_]+$/),
    message: z.string().min(1),
    requestId: z.string().min(1),
  }),
});

/** True for `{error: {code, message, requestId}}` with non-empty strings. */
export function isErrorBody(body: unknown): body is ErrorBody {
  return errorBodySchema.safeParse(body).success;
}
