import type { SessionSnapshot } from "@agent-runtime/client";
import { firstLine } from "./format.js";

/**
 * A session's title: the server's, else its first message (the server names
 * sessions that way on the first turn, but no event tells a live client).
 */
export function sessionTitle(snapshot: SessionSnapshot): string | undefined {
  if (snapshot.metadata?.title) return snapshot.metadata.title;
  const first = snapshot.blocks.find((block) => block.type === "user_message");
  return first?.type === "user_message" ? firstLine(first.content, 80) : undefined;
}
