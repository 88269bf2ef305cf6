/**
 * What the server and the runner agree on for OpenCode: the server writes
 * the profile's `opencode.json` and the runner's environment, the runner
 * drives `opencode serve` with them.
 */

/**
 * The provider the runtime declares in `opencode.json` for its
 * OpenAI-compatible endpoint. A model name without a `provider/` prefix is
 * served by it.
 */
export const OPENCODE_PROVIDER_ID = "agent-runtime";

/**
 * Environment variable naming the directory where the runner exports OpenCode
 * sessions after every turn and imports them from before resuming one (see
 * `openCodeTranscriptFileName`). Set by the server; without it the runner
 * neither exports nor imports.
 */
export const OPENCODE_TRANSCRIPT_DIR_ENV = "AGENT_RUNTIME_OPENCODE_TRANSCRIPT_DIR";

/** OpenCode's reference to a model: a provider id and the model's id at that provider. */
export interface OpenCodeModelRef {
  readonly providerID: string;
  readonly modelID: string;
}

/**
 * Splits `provider/model` at its first `/`. A name without a provider (no
 * `/`, or one only at the start) refers to `OPENCODE_PROVIDER_ID`.
 */
export function openCodeModelRef(model: string): OpenCodeModelRef {
  const slash = model.indexOf("/");
  return slash > 0
    ? { providerID: model.slice(0, slash), modelID: model.slice(slash + 1) }
    : { providerID: OPENCODE_PROVIDER_ID, modelID: model };
}

/** `provider/model` as OpenCode's config expects it; the inverse of `openCodeModelRef`. */
export function openCodeModelId(model: string): string {
  const { providerID, modelID } = openCodeModelRef(model);
  return `${providerID}/${modelID}`;
}

/**
 * Name of a session's transcript file in the transcript directory: the
 * session exported in the format of `opencode export`, which
 * `opencode import` reads back.
 */
export function openCodeTranscriptFileName(sessionId: string): string {
  return `${sessionId}.json`;
}
