import type { ModelCredential } from "../agent-architecture.js";

/**
 * OpenCode's own hosted models (OpenCode Zen): the provider id OpenCode
 * knows them by, so a session names one `opencode/<model>`; configured as
 * the further model provider of that name (see
 * `AgentRuntimeOptions.modelProviders`).
 */
export const OPENCODE_HOSTED_PROVIDER = "opencode";

/** Where OpenCode Zen serves the hosted models. */
export const OPENCODE_HOSTED_BASE_URL = "https://opencode.ai/zen/v1";

/**
 * The variable OpenCode reads the hosted models' key from. Inside a sandbox
 * it holds the placeholder (with it set, OpenCode offers the paid models
 * too); the egress proxy holds the key.
 */
export const OPENCODE_HOSTED_KEY_ENV = "OPENCODE_API_KEY";

/**
 * The key's headers on the hosted models' requests, given the path of the
 * provider's base URL (e.g. `/zen/v1`): OpenCode talks to each model in the
 * API its maker defines, each with its own key header: OpenAI chat
 * completions and responses (and the model list) with `Authorization:
 * Bearer`, Anthropic messages with `x-api-key`, Google `generateContent`
 * (below `/models/`) with `x-goog-api-key`. No other request of the endpoint
 * gets the key.
 */
export function hostedProviderCredentials(basePath: string, apiKey: string): ModelCredential[] {
  const base = basePath.replace(/\/+$/, "");
  return [
    {
      header: "authorization",
      value: `Bearer ${apiKey}`,
      paths: [`POST ${base}/chat/completions`, `POST ${base}/responses`, `GET ${base}/models`],
    },
    { header: "x-api-key", value: apiKey, paths: [`POST ${base}/messages`] },
    { header: "x-goog-api-key", value: apiKey, paths: [`${base}/models`] },
  ];
}
