export { loadCassette } from "./cassette/cassette-file.js";
export { NO_CASSETTE_ENTRY, type ReplayPacing } from "./cassette/player.js";
export type { RecordOptions } from "./cassette/recorder.js";
export { type Cassette, type CassetteEntry, cassetteSchema } from "./cassette/schema.js";
export { runMockModelCli } from "./cli.js";
export { MockModelError, type MockModelErrorCode } from "./errors.js";
export type { ChunkEvent, MockModelHooks } from "./http/hooks.js";
export type { RecordedRequest } from "./http/request-log.js";
export type { MockModelLogger } from "./http/route-context.js";
export { loadScriptFile, parseScript } from "./script/parse-script.js";
export { FALLBACK_PREFIX } from "./script/responder.js";
export {
  type Match,
  type Matcher,
  matcherSchema,
  matchSchema,
  type Pacing,
  type Reply,
  type ReplyInput,
  type Rule,
  type RuleInput,
  replySchema,
  ruleSchema,
  type Script,
  type ScriptInput,
  type Step,
  type StepInput,
  scriptSchema,
  stepSchema,
  type Usage,
} from "./script/schema.js";
export {
  DEFAULT_MODELS,
  type MockModel,
  type MockModelOptions,
  type ReplayOptions,
  startMockModel,
} from "./server.js";
