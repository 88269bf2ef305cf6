import type { UserMessageBlock } from "@agent-runtime/protocol";

/** The user's message, as sent (plain text, line breaks kept). */
export function UserMessage({ block }: { readonly block: UserMessageBlock }) {
  return (
    <div className="message user-message" data-block-type="user_message">
      <div className="bubble">{block.content}</div>
    </div>
  );
}
