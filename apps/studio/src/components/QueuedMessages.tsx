import type { QueuedMessage } from "@agent-runtime/client";
import { firstLine } from "../format.js";

/** Messages waiting behind the running turn, oldest first. */
export function QueuedMessages({ messages }: { readonly messages: readonly QueuedMessage[] }) {
  if (messages.length === 0) return null;
  return (
    <ul className="queued" aria-label="Queued messages">
      {messages.map((message) => (
        <li key={message.turnId}>
          <span className="notice-tag">queued</span>
          <span>{firstLine(message.content, 120)}</span>
        </li>
      ))}
    </ul>
  );
}
