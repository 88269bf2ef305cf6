import type { DraftAttachment } from "../attachments.js";
import { bytes } from "../format.js";

interface AttachmentDraftsProps {
  readonly attachments: readonly DraftAttachment[];
  onRemove(id: string): void;
}

/** The images (thumbnails) and files (chips) waiting to be sent, each with a remove button. */
export function AttachmentDrafts({ attachments, onRemove }: AttachmentDraftsProps) {
  if (attachments.length === 0) return null;
  return (
    <ul className="composer-attachments" aria-label="Attachments">
      {attachments.map((attachment) => (
        <li
          key={attachment.id}
          className={`attachment-draft ${attachment.previewUrl ? "image" : "file"}`}
          data-attachment-type={attachment.mediaType ? "image" : "file"}
          title={`${attachment.name} · ${bytes(attachment.size)}`}
        >
          {attachment.previewUrl ? (
            <img src={attachment.previewUrl} alt={attachment.name} />
          ) : (
            <span className="attachment-chip-label">
              <span className="attachment-name">{attachment.name}</span>
              <span className="muted small">{bytes(attachment.size)}</span>
            </span>
          )}
          <button
            type="button"
            className="attachment-remove"
            aria-label={`Remove ${attachment.name}`}
            onClick={() => onRemove(attachment.id)}
          >
            ✕
          </button>
        </li>
      ))}
    </ul>
  );
}
