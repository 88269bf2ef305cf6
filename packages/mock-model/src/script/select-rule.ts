import type { Conversation } from "./conversation.js";
import type { Match, Matcher, Reply, Rule } from "./schema.js";

export interface RuleSelection {
  /** The rule's `name`, or `rule <index>` when it has none. */
  ruleName: string;
  reply: Reply;
}

/**
 * Returns the reply of the first rule that matches the conversation and has
 * a reply for its position, or undefined. Pure: the same conversation
 * always selects the same reply.
 */
export function selectRule(rules: readonly Rule[], conversation: Conversation): RuleSelection | undefined {
  for (const [index, rule] of rules.entries()) {
    if (!matchesAll(rule.match, conversation)) continue;
    const reply = rule.reply ?? rule.replies?.[conversation.position];
    if (reply) return { ruleName: rule.name ?? `rule ${index}`, reply };
  }
  return undefined;
}

function matchesAll(match: Match, conversation: Conversation): boolean {
  if (match.prompt !== undefined && !matches(match.prompt, conversation.prompt)) return false;
  if (match.system !== undefined && !matches(match.system, conversation.system)) return false;
  if (match.model !== undefined && !matches(match.model, conversation.model)) return false;
  if (match.toolOffered !== undefined && !conversation.tools.includes(match.toolOffered)) return false;
  if (match.image !== undefined && match.image !== conversation.promptImages.length > 0) return false;
  if (match.toolResult !== undefined) {
    if (conversation.toolResult === undefined || !matches(match.toolResult, conversation.toolResult)) {
      return false;
    }
  }
  return true;
}

/** Substring test for strings, RegExp test for `{regex, flags}`. */
function matches(matcher: Matcher, text: string): boolean {
  if (typeof matcher === "string") return text.includes(matcher);
  return new RegExp(matcher.regex, matcher.flags).test(text);
}
