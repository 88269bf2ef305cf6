import type { RecordedAttachment } from "@agent-runtime/protocol";
import { useAgentClient } from "@agent-runtime/react";
import { useEffect, useState } from "react";
import { bytes } from "../format.js";
import { saveBytes } from "../save-bytes.js";

interface MessageAttachmentsProps {
  readonly sessionId: string;
  readonly attachments: readonly RecordedAttachment[];
}

/** The last segment of a workspace path. */
function baseName(path: string): string {
  return path.split("/").pop() || path;
}

/**
 * A sent message's images (thumbnails) and files (chips, which download the
 * file). Bytes come through the files API with the client's credentials, so
 * they show on servers that require a key.
 */
export function MessageAttachments({ sessionId, attachments }: MessageAttachmentsProps) {
  return (
    <div className="message-attachments">
      {attachments.map((attachment) =>
        attachment.type === "image" ? (
          <Thumbnail key={attachment.path} sessionId={sessionId} attachment={attachment} />
        ) : (
          <FileChip key={attachment.path} sessionId={sessionId} attachment={attachment} />
        ),
      )}
    </div>
  );
}

type Loaded =
  | { readonly state: "loading" }
  | { readonly state: "ready"; readonly url: string }
  | { readonly state: "failed" };

function Thumbnail({
  sessionId,
  attachment,
}: {
  readonly sessionId: string;
  readonly attachment: RecordedAttachment;
}) {
  const client = useAgentClient();
  const [image, setImage] = useState<Loaded>({ state: "loading" });
  useEffect(() => {
    let url: string | undefined;
    let live = true;
    client.rest
      .readFileBytes(sessionId, attachment.path)
      .then((data) => {
        if (!live) return;
        url = URL.createObjectURL(new Blob([data as BlobPart], { type: attachment.mediaType ?? "" }));
        setImage({ state: "ready", url });
      })
      .catch(() => live && setImage({ state: "failed" }));
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [client, sessionId, attachment.path, attachment.mediaType]);
  const name = baseName(attachment.path);
  if (image.state !== "ready") {
    return (
      <span
        className="attachment-chip attachment-placeholder"
        data-path={attachment.path}
        title={attachment.path}
      >
        {image.state === "loading" ? "Loading image…" : `${name} (image not available)`}
      </span>
    );
  }
  return (
    <a
      href={image.url}
      target="_blank"
      rel="noreferrer"
      className="attachment-image-link"
      title={attachment.path}
    >
      <img className="attachment-thumbnail" src={image.url} alt={name} data-path={attachment.path} />
    </a>
  );
}

function FileChip({
  sessionId,
  attachment,
}: {
  readonly sessionId: string;
  readonly attachment: RecordedAttachment;
}) {
  const client = useAgentClient();
  const [failed, setFailed] = useState(false);
  const name = baseName(attachment.path);
  const download = async () => {
    try {
      saveBytes(await client.rest.readFileBytes(sessionId, attachment.path), name);
      setFailed(false);
    } catch {
      setFailed(true);
    }
  };
  return (
    <button
      type="button"
      className="attachment-chip"
      data-path={attachment.path}
      title={`Download ${attachment.path}`}
      onClick={() => void download()}
    >
      <span className="attachment-name">{name}</span>
      <span className="muted small">{failed ? "not available" : bytes(attachment.size)}</span>
    </button>
  );
}
