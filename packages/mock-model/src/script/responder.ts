import type { Conversation } from "./conversation.js";
import { demoRules } from "./demo.js";
import { buildResponse, type ModelResponse } from "./response.js";
import type { Reply, Script } from "./schema.js";
import { selectRule } from "./select-rule.js";
import { detectSideRequest } from "./side-requests.js";

/** How a request was answered, as recorded in the request log. */
export interface Answer {
  response: ModelResponse;
  /** `script`/`demo`: a rule answered; `side`: a side request; `fallback`: nothing matched. */
  source: "script" | "demo" | "side" | "fallback";
  /** The rule name, the side-request kind, or `fallback`. */
  matched: string;
}

export type Responder = (conversation: Conversation) => Answer;

/**
 * Creates the transport-free answering function: side requests first, then
 * the script's rules, then (with `demo`) the demo rules, then the fallback.
 */
export function createResponder(script: Script, options: { demo: boolean }): Responder {
  const defaults = script.defaults ?? {};
  return (conversation) => {
    const answer = (reply: Reply, source: Answer["source"], matched: string): Answer => ({
      response: buildResponse(reply, conversation, defaults),
      source,
      matched,
    });
    const side = detectSideRequest(conversation);
    if (side) return answer(side.reply, "side", side.kind);
    const scripted = selectRule(script.rules, conversation);
    if (scripted) return answer(scripted.reply, "script", scripted.ruleName);
    if (options.demo) {
      const demo = selectRule(demoRules, conversation);
      if (demo) return answer(demo.reply, "demo", demo.ruleName);
    }
    return answer(script.fallback ?? fallbackReply(conversation), "fallback", "fallback");
  };
}

/** The recognizable answer to a request no rule matches. */
export const FALLBACK_PREFIX = "[mock-model] No script rule matched";

function fallbackReply(conversation: Conversation): Reply {
  const prompt =
    conversation.prompt.length > 200 ? `${conversation.prompt.slice(0, 200)}…` : conversation.prompt;
  return {
    steps: [
      {
        text: `${FALLBACK_PREFIX} (position ${conversation.position}) for the prompt: ${JSON.stringify(prompt)}`,
      },
    ],
  };
}
