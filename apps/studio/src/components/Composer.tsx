import { AgentRuntimeError } from "@agent-runtime/client";
import { useMessages } from "@agent-runtime/react";
import { type FormEvent, type KeyboardEvent, useLayoutEffect, useRef, useState } from "react";
import { QueuedMessages } from "./QueuedMessages.js";

/** Tallest the input grows (px) before it scrolls. */
const MAX_HEIGHT = 220;

/**
 * The message input. Enter sends, Shift+Enter adds a line; while a turn runs,
 * a sent message queues behind it and Stop interrupts the turn. The draft
 * survives a failed send.
 */
export function Composer({ sessionId }: { readonly sessionId: string }) {
  const { isStreaming, queuedMessages, sendMessage, interrupt } = useMessages(sessionId);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [stopping, setStopping] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: resizes when the draft changes
  useLayoutEffect(() => {
    const element = input.current;
    if (!element) return;
    element.style.height = "auto";
    element.style.height = `${Math.min(element.scrollHeight, MAX_HEIGHT)}px`;
  }, [draft]);

  const send = async () => {
    const content = draft.trim();
    if (!content) return;
    setDraft("");
    setError(undefined);
    try {
      await sendMessage(content);
    } catch (failure) {
      setDraft((current) => current || content);
      setError(AgentRuntimeError.is(failure) ? failure.message : String(failure));
    }
  };
  const stop = async () => {
    setStopping(true);
    try {
      await interrupt();
    } catch (failure) {
      setError(AgentRuntimeError.is(failure) ? failure.message : String(failure));
    } finally {
      setStopping(false);
    }
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  };

  return (
    <div className="composer-wrap">
      <QueuedMessages messages={queuedMessages} />
      {error ? <p className="form-error small composer-error">{error}</p> : null}
      <form
        className="composer"
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          void send();
        }}
      >
        <textarea
          ref={input}
          rows={1}
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={onKeyDown}
          placeholder={isStreaming ? "Queue a message…" : "Message the agent…"}
          aria-label="Message"
        />
        {isStreaming ? (
          <button type="button" className="button stop" onClick={() => void stop()} disabled={stopping}>
            {stopping ? "Stopping…" : "Stop"}
          </button>
        ) : null}
        <button type="submit" className="button primary send" disabled={!draft.trim()}>
          {isStreaming ? "Queue" : "Send"}
        </button>
      </form>
      <p className="composer-hint muted small">Enter to send · Shift+Enter for a new line</p>
    </div>
  );
}
