import { AgentRuntimeError } from "@agent-runtime/client";
import { useMessages } from "@agent-runtime/react";
import {
  type ClipboardEvent,
  type DragEvent,
  type FormEvent,
  type KeyboardEvent,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
} from "react";
import {
  admitFiles,
  type DraftAttachment,
  dragHasFiles,
  filesOf,
  readDraft,
  releaseDraft,
  toMessageAttachment,
} from "../attachments.js";
import { AttachmentDrafts } from "./AttachmentDrafts.js";
import { QueuedMessages } from "./QueuedMessages.js";

/** Tallest the input grows (px) before it scrolls. */
const MAX_HEIGHT = 220;

/**
 * The message input. Enter sends, Shift+Enter adds a line; while a turn runs,
 * a sent message queues behind it and Stop interrupts the turn. Images and
 * files are pasted, dropped or picked, checked against the message limits
 * before they are read, and shown (thumbnail or chip) until sent or removed.
 * The draft and its attachments survive a failed send.
 */
export function Composer({ sessionId }: { readonly sessionId: string }) {
  const { isStreaming, queuedMessages, sendMessage, interrupt } = useMessages(sessionId);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [stopping, setStopping] = useState(false);
  const [attachments, setAttachments] = useState<readonly DraftAttachment[]>([]);
  const [problems, setProblems] = useState<readonly string[]>([]);
  const [reading, setReading] = useState(0);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const current = useRef(attachments);
  current.current = attachments;

  // Frees the previews of drafts still held when the composer goes away.
  useEffect(() => () => current.current.forEach(releaseDraft), []);
  // A file dropped beside the composer must not replace the Studio with the file.
  useEffect(() => {
    const guard = (event: globalThis.DragEvent) => {
      if (dragHasFiles(event.dataTransfer)) event.preventDefault();
    };
    window.addEventListener("dragover", guard);
    window.addEventListener("drop", guard);
    return () => {
      window.removeEventListener("dragover", guard);
      window.removeEventListener("drop", guard);
    };
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: resizes when the draft changes
  useLayoutEffect(() => {
    const element = input.current;
    if (!element) return;
    element.style.height = "auto";
    element.style.height = `${Math.min(element.scrollHeight, MAX_HEIGHT)}px`;
  }, [draft]);

  const addFiles = async (files: readonly File[]) => {
    const { accepted, problems: refused } = admitFiles(current.current, files);
    setProblems(refused);
    if (accepted.length === 0) return;
    setReading((n) => n + 1);
    try {
      const read = await Promise.allSettled(accepted.map(readDraft));
      const drafts = read.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const failed = read.flatMap((r) =>
        r.status === "rejected" ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : [],
      );
      if (failed.length > 0) setProblems((shown) => [...shown, ...failed]);
      setAttachments((held) => [...held, ...drafts]);
    } finally {
      setReading((n) => n - 1);
    }
  };
  const remove = (id: string) => {
    const draft = attachments.find((a) => a.id === id);
    if (draft) releaseDraft(draft);
    setAttachments((held) => held.filter((a) => a.id !== id));
    setProblems([]);
  };
  const send = async () => {
    const content = draft.trim();
    if (!content || reading > 0) return;
    const sending = attachments;
    setDraft("");
    setAttachments([]);
    setProblems([]);
    setError(undefined);
    try {
      await sendMessage(content, sending.map(toMessageAttachment));
      sending.forEach(releaseDraft);
    } catch (failure) {
      setDraft((current) => current || content);
      setAttachments((held) => [...sending, ...held]);
      setError(AgentRuntimeError.is(failure) ? failure.message : String(failure));
    }
  };
  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = filesOf(event.clipboardData);
    if (files.length === 0) return;
    event.preventDefault();
    void addFiles(files);
  };
  const onDragOver = (event: DragEvent) => {
    if (!dragHasFiles(event.dataTransfer)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    setDragging(true);
  };
  const onDrop = (event: DragEvent) => {
    setDragging(false);
    const files = filesOf(event.dataTransfer);
    if (files.length === 0) return;
    event.preventDefault();
    void addFiles(files);
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
    // biome-ignore lint/a11y/noStaticElementInteractions: a drop target only; pasting and the attach button do the same from the keyboard
    <div
      className={`composer-wrap ${dragging ? "dragging" : ""}`}
      onDragEnter={onDragOver}
      onDragOver={onDragOver}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <QueuedMessages messages={queuedMessages} />
      {error ? <p className="form-error small composer-error">{error}</p> : null}
      {[...new Set(problems)].map((problem) => (
        <p key={problem} className="form-error small composer-error" role="alert">
          {problem}
        </p>
      ))}
      <AttachmentDrafts attachments={attachments} onRemove={remove} />
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
          onPaste={onPaste}
          placeholder={isStreaming ? "Queue a message…" : "Message the agent…"}
          aria-label="Message"
        />
        <button
          type="button"
          className="button ghost attach"
          aria-label="Attach images or files"
          title="Attach images or files"
          onClick={() => picker.current?.click()}
        >
          <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" className="attach-icon">
            <path
              d="M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9"
              fill="none"
              stroke="currentColor"
              strokeWidth="1.8"
              strokeLinecap="round"
              strokeLinejoin="round"
            />
          </svg>
        </button>
        <input
          ref={picker}
          type="file"
          multiple
          hidden
          onChange={(event) => {
            void addFiles([...(event.target.files ?? [])]);
            event.target.value = "";
          }}
        />
        {isStreaming ? (
          <button type="button" className="button stop" onClick={() => void stop()} disabled={stopping}>
            {stopping ? "Stopping…" : "Stop"}
          </button>
        ) : null}
        <button type="submit" className="button primary send" disabled={!draft.trim() || reading > 0}>
          {isStreaming ? "Queue" : "Send"}
        </button>
      </form>
      <p className="composer-hint muted small">
        {attachments.length > 0 && !draft.trim()
          ? "Add a message to send with the attachments"
          : "Enter to send · Shift+Enter for a new line · paste or drop images and files"}
      </p>
    </div>
  );
}
