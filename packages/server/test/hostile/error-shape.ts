import { expect } from "vitest";

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

/** True for `{error: {code, message, requestId}}` with non-empty strings. */
export function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== "object" || body === null) return false;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return false;
  const { code, message, requestId } = error as Record<string, unknown>;
  return (
    typeof code === "string" &&
    /^[A-Z_]+$/.test(code) &&
    typeof message === "string" &&
    message.length > 0 &&
    typeof requestId === "string" &&
    requestId.length > 0
  );
}
