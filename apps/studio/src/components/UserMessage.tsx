import type { UserMessageBlock } from "@agent-runtime/protocol";
import { MessageAttachments } from "./MessageAttachments.js";

/** The user's message, as sent (plain text, line breaks kept), with its images and files. */
export function UserMessage({
  sessionId,
  block,
}: {
  readonly sessionId: string;
  readonly block: UserMessageBlock;
}) {
  return (
    <div className="message user-message" data-block-type="user_message">
      {block.attachments?.length ? (
        <MessageAttachments sessionId={sessionId} attachments={block.attachments} />
      ) : null}
      <div className="bubble">{block.content}</div>
    </div>
  );
}
