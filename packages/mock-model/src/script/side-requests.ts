import type { Conversation } from "./conversation.js";
import type { Reply } from "./schema.js";

export interface SideRequest {
  /** Why the request counts as a side request: `quota-probe`, `title`, `topic` or `summary`. */
  kind: string;
  reply: Reply;
}

/** Every Claude Code system prompt carries one of these. */
const CLAUDE_CODE_MARKER = /x-anthropic-billing-header|Claude Agent SDK|Claude Code/;
/** The opening of OpenCode's title agent's system prompt. */
const OPENCODE_TITLE_MARKER = /You are a title generator\. You output ONLY a thread title\./;

/**
 * Recognizes the small requests an agent makes beside the conversation so
 * they are answered harmlessly instead of by script rules meant for the
 * conversation (their messages quote the user's prompt, so prompt rules
 * would match them):
 * - any request with `max_tokens` ≤ 1 (quota / connectivity probes);
 * - Claude Code requests that offer no tools and ask for a session title,
 *   a topic check or a summary (e.g. "You are naming a coding session …
 *   Return JSON with a single "title" field", with the prompt in `<session>`);
 * - OpenCode's title requests: no tools, its title agent's system prompt
 *   ("You are a title generator. You output ONLY a thread title. …"), the
 *   user's message as the last user turn; answered with a plain one-line title.
 * Side requests offer no tools, so a reply here never starts a tool call.
 */
export function detectSideRequest(conversation: Conversation): SideRequest | undefined {
  if (conversation.maxTokens !== undefined && conversation.maxTokens <= 1) {
    return { kind: "quota-probe", reply: { steps: [{ text: "ok" }] } };
  }
  if (conversation.tools.length > 0) return undefined;
  if (OPENCODE_TITLE_MARKER.test(conversation.system)) {
    return { kind: "title", reply: { steps: [{ text: titleFor(conversation.prompt) }] } };
  }
  if (!CLAUDE_CODE_MARKER.test(conversation.system)) return undefined;
  if (/isNewTopic|new conversation topic/i.test(conversation.system)) {
    return { kind: "topic", reply: { steps: [{ text: '{"isNewTopic": false, "title": null}' }] } };
  }
  if (/\btitle\b/i.test(conversation.system)) {
    return {
      kind: "title",
      reply: { steps: [{ text: JSON.stringify({ title: titleFor(conversation.prompt) }) }] },
    };
  }
  if (/\bsummar(y|ize|ise)\b/i.test(conversation.system)) {
    return { kind: "summary", reply: { steps: [{ text: "Summary: a conversation with the mock model." }] } };
  }
  return undefined;
}

/** The first five words of the session text (inside `<session>` when present), in sentence case. */
function titleFor(prompt: string): string {
  const session = /<session>([\s\S]*?)<\/session>/.exec(prompt)?.[1] ?? prompt;
  const words = session.trim().split(/\s+/).slice(0, 5).join(" ");
  return words ? words[0]!.toUpperCase() + words.slice(1) : "Mock session";
}
