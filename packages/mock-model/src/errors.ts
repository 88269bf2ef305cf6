/** Stable codes of the errors this package throws. */
export type MockModelErrorCode = "invalid_script" | "invalid_options" | "invalid_cassette";

/** The one error class of this package; `code` is stable, `message` is for people. */
export class MockModelError extends Error {
  override readonly name = "MockModelError";

  constructor(
    readonly code: MockModelErrorCode,
    message: string,
  ) {
    super(message);
  }
}
