import { useBlockIds, useOlderBlocks, usePermissions, useSessionSelector } from "@agent-runtime/react";
import { useLayoutEffect, useRef } from "react";
import { BlockView } from "./BlockView.js";
import { PermissionPrompt } from "./PermissionPrompt.js";

interface ConversationProps {
  readonly sessionId: string;
  onOpenSubagent(subagentId: string): void;
}

/** How close to the bottom (px) counts as "following" the stream. */
const FOLLOW_SLACK = 80;
/** How close to the top (px) loads the earlier blocks of a long conversation. */
const LOAD_OLDER_SLACK = 200;

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
  const older = useOlderBlocks(sessionId);
  const scroller = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  /** While earlier blocks load: the view's distance from the bottom, kept when they appear above it. */
  const keptFromBottom = useRef<number | undefined>(undefined);

  const loadOlder = () => {
    const element = scroller.current;
    if (!element || !older.hasOlderBlocks || older.loading) return;
    keptFromBottom.current = element.scrollHeight - element.scrollTop;
    void older.loadOlder();
  };
  const firstId = ids[0];
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when blocks appear above the first one
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && keptFromBottom.current !== undefined) {
      element.scrollTop = element.scrollHeight - keptFromBottom.current;
      keptFromBottom.current = undefined;
    }
  }, [firstId]);

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
        if (element.scrollTop < LOAD_OLDER_SLACK) loadOlder();
      }}
    >
      <div className="conversation-inner" data-testid="conversation">
        {older.hasOlderBlocks ? (
          <div className="load-older">
            <button type="button" className="link" disabled={older.loading} onClick={loadOlder}>
              {older.loading ? "Loading earlier messages…" : "Load earlier messages"}
            </button>
            {older.error ? <span className="muted small"> {older.error.message}</span> : null}
          </div>
        ) : null}
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
