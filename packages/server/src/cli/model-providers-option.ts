import { z } from "zod";
import type { ModelEndpoint } from "../agents/agent-architecture.js";
import { RuntimeError } from "../errors.js";
import { describeZodIssues } from "../profiles/validate-input.js";

const optionSchema = z.record(
  z.string(),
  z.strictObject({
    baseUrl: z.string(),
    /** The environment variable holding the provider's key (never the key itself: it would show in `ps`). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
  }),
);

/**
 * `--model-providers` / `AGENT_RUNTIME_MODEL_PROVIDERS`: JSON
 * `{"<name>": {"baseUrl": "https://…/v1", "apiKeyEnv": "OPENAI_API_KEY"}}`,
 * each key read from the environment variable it names. Throws
 * `VALIDATION_FAILED` for bad JSON, a bad entry, or a named variable that is
 * not set. (Names and URLs are validated by the runtime.)
 */
export function parseModelProvidersOption(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, ModelEndpoint> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RuntimeError("VALIDATION_FAILED", "--model-providers: not JSON");
  }
  const parsed = optionSchema.safeParse(json);
  if (!parsed.success) {
    throw new RuntimeError("VALIDATION_FAILED", `--model-providers: ${describeZodIssues(parsed.error)}`);
  }
  return Object.fromEntries(
    Object.entries(parsed.data).map(([name, { baseUrl, apiKeyEnv }]) => {
      if (apiKeyEnv === undefined) return [name, { baseUrl }];
      const apiKey = env[apiKeyEnv];
      if (!apiKey) {
        throw new RuntimeError("VALIDATION_FAILED", `--model-providers: ${name}: ${apiKeyEnv} is not set`);
      }
      return [name, { baseUrl, apiKey }];
    }),
  );
}
