const MOCK_MODEL_PACKAGE = "@agent-runtime/mock-model";

/**
 * Loads `@agent-runtime/mock-model`, an optional peer dependency: only the
 * demo mode of `agent-runtime serve` (no model key) and `agent-runtime
 * mock-model` use it, so nothing else ever loads it. Rejects with an error
 * that says how to install it when it is missing.
 */
export async function loadMockModel(): Promise<typeof import("@agent-runtime/mock-model")> {
  try {
    return await import("@agent-runtime/mock-model");
  } catch (error) {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (
      code === "ERR_MODULE_NOT_FOUND" &&
      String((error as Error).message).includes(`'${MOCK_MODEL_PACKAGE}'`)
    ) {
      throw new Error(
        `${MOCK_MODEL_PACKAGE} is not installed (npm install ${MOCK_MODEL_PACKAGE}); set ANTHROPIC_API_KEY to serve with a real model instead`,
        { cause: error },
      );
    }
    throw error;
  }
}
