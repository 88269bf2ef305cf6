import type { ModelEndpoint } from "../agents/agent-architecture.js";
import { OPENCODE_HOSTED_BASE_URL, OPENCODE_HOSTED_PROVIDER } from "../agents/opencode/hosted-provider.js";
import { RuntimeError } from "../errors.js";

/**
 * The further model providers with OpenCode's hosted models added as
 * provider `opencode` when `apiKey` (`OPENCODE_API_KEY`, read from the
 * environment only) is set: at `baseUrl` (`--opencode-base-url` /
 * `OPENCODE_BASE_URL`), OpenCode Zen by default. Throws `VALIDATION_FAILED`
 * when `--model-providers` names `opencode` as well, or when a base URL is
 * given without a key.
 */
export function withOpenCodeHostedProvider(
  providers: Readonly<Record<string, ModelEndpoint>>,
  apiKey: string | undefined,
  baseUrl: string | undefined,
): Record<string, ModelEndpoint> {
  if (!apiKey) {
    if (baseUrl) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        "--opencode-base-url is set but OPENCODE_API_KEY is not: set the key of OpenCode's hosted models too",
      );
    }
    return { ...providers };
  }
  if (Object.hasOwn(providers, OPENCODE_HOSTED_PROVIDER)) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `--model-providers names "${OPENCODE_HOSTED_PROVIDER}", which OPENCODE_API_KEY configures (OpenCode's hosted models): remove one of them`,
    );
  }
  return {
    ...providers,
    [OPENCODE_HOSTED_PROVIDER]: { baseUrl: baseUrl || OPENCODE_HOSTED_BASE_URL, apiKey },
  };
}
