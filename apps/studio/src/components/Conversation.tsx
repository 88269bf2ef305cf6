import { useBlockIds, usePermissions, useSessionSelector } from "@agent-runtime/react";
import { useLayoutEffect, useRef } from "react";
import { BlockView } from "./BlockView.js";
import { PermissionPrompt } from "./PermissionPrompt.js";

interface ConversationProps {
  readonly sessionId: string;
  onOpenSubagent(subagentId: string): void;
}

/** How close to the bottom (px) counts as "following" the stream. */
const FOLLOW_SLACK = 80;

/**
 * The main conversation. Re-renders on every event only to keep the view
 * pinned to the bottom while the reader is there; each block renders itself.
 */
export function Conversation({ sessionId, onOpenSubagent }: ConversationProps) {
  const ids = useBlockIds(sessionId);
  const lastSeq = useSessionSelector(sessionId, (s) => s.lastSeq);
  const loaded = useSessionSelector(sessionId, (s) => s.loadState === "ready");
  const running = useSessionSelector(sessionId, (s) => s.turn.running);
  const lastType = useSessionSelector(sessionId, (s) => s.blocks.at(-1)?.type);
  const { pending, respond } = usePermissions(sessionId);
  const scroller = useRef<HTMLDivElement>(null);
  const following = useRef(true);

  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on purpose for every new event and block
  useLayoutEffect(() => {
    // A new message from the user means they want to follow the answer again.
    if (lastType === "user_message") following.current = true;
    const element = scroller.current;
    if (element && following.current) element.scrollTop = element.scrollHeight;
  }, [lastSeq, ids.length, pending.length, lastType]);

  return (
    <div
      className="conversation"
      ref={scroller}
      onScroll={(event) => {
        const element = event.currentTarget;
        following.current = element.scrollHeight - element.scrollTop - element.clientHeight < FOLLOW_SLACK;
      }}
    >
      <div className="conversation-inner" data-testid="conversation">
        {loaded && ids.length === 0 ? (
          <div className="empty-chat">
            <p>Send a message to start the agent.</p>
            <p className="muted small">The sandbox starts with the first message.</p>
          </div>
        ) : null}
        {ids.map((id) => (
          <BlockView key={id} sessionId={sessionId} blockId={id} onOpenSubagent={onOpenSubagent} />
        ))}
        {pending.map((request) => (
          <PermissionPrompt
            key={request.requestId}
            request={request}
            onAnswer={(decision, always) => respond(request.requestId, decision, { always })}
          />
        ))}
        {running ? (
          <div className="working" aria-live="polite">
            <span className="working-dots" aria-hidden="true">
              <span />
              <span />
              <span />
            </span>
            Working…
          </div>
        ) : null}
      </div>
    </div>
  );
}
