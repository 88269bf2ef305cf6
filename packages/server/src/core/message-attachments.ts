import { randomUUID } from "node:crypto";
import {
  type ImageMediaType,
  imageTypeOf,
  MAX_ATTACHED_FILE_BYTES,
  MAX_ATTACHMENT_BYTES,
  MAX_IMAGE_BYTES,
  type MessageAttachment,
  type RecordedAttachment,
} from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";

/** An image as the agent gets it with its message. */
export interface MessageImage {
  readonly mediaType: ImageMediaType;
  /** Base64. */
  readonly data: string;
}

/** A message ready for its turn: the text the agent gets, its images, and what its block records. */
export interface PreparedMessage {
  /** The message, plus a line naming the files attached to it (placed in the workspace). */
  readonly content: string;
  readonly images: readonly MessageImage[];
  readonly attachments: readonly RecordedAttachment[];
}

/** What preparing a message needs of its session's workspace. */
export interface AttachmentWorkspace {
  write(path: string, content: Uint8Array): Promise<void>;
  /** The file's bytes; refuses a file over `maxBytes` without reading it (`FILE_TOO_LARGE`). */
  read(path: string, maxBytes: number): Promise<Uint8Array>;
}

/** Folder of the workspace that attachments are placed in, one subfolder per message. */
const ATTACHMENTS_FOLDER = "attachments";

const EXTENSIONS: Record<ImageMediaType, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
};

/**
 * Checks a message's attachments and places them in the workspace under
 * `attachments/<id>/` (an image sent inline too, so its block can show it and
 * it survives like any file): images go to the agent as images, files are
 * named in its text. Throws `VALIDATION_FAILED` for an image whose bytes are
 * not of a supported type (or not of its declared one), `PAYLOAD_TOO_LARGE`
 * for attachments over their limits, and what reading a workspace image
 * throws (`FILE_NOT_FOUND`, `INVALID_PATH`, `FILE_TOO_LARGE`).
 */
export async function prepareMessage(
  content: string,
  attachments: readonly MessageAttachment[],
  workspace: AttachmentWorkspace,
): Promise<PreparedMessage> {
  if (attachments.length === 0) return { content, images: [], attachments: [] };
  const folder = `${ATTACHMENTS_FOLDER}/${randomUUID().slice(0, 8)}`;
  const images: MessageImage[] = [];
  const recorded: RecordedAttachment[] = [];
  const files: string[] = [];
  let total = 0;
  const count = (bytes: number, max: number, what: string) => {
    if (bytes > max)
      throw new RuntimeError("PAYLOAD_TOO_LARGE", `${what} has ${bytes} bytes; at most ${max}`);
    total += bytes;
    if (total > MAX_ATTACHMENT_BYTES) {
      throw new RuntimeError(
        "PAYLOAD_TOO_LARGE",
        `The message's attachments hold more than ${MAX_ATTACHMENT_BYTES} bytes together`,
      );
    }
  };
  const pending: { path: string; bytes: Uint8Array }[] = [];
  for (const [index, attachment] of attachments.entries()) {
    const what = `attachments.${index}`;
    if (attachment.type === "file") {
      const bytes = Buffer.from(attachment.data, "base64");
      count(bytes.length, MAX_ATTACHED_FILE_BYTES, what);
      const path = `${folder}/${attachment.name}`;
      pending.push({ path, bytes });
      files.push(path);
      recorded.push({ type: "file", path, size: bytes.length });
      continue;
    }
    if ("data" in attachment) {
      const bytes = Buffer.from(attachment.data, "base64");
      count(bytes.length, MAX_IMAGE_BYTES, what);
      const found = imageTypeOf(bytes);
      if (found !== attachment.mediaType) {
        throw new RuntimeError(
          "VALIDATION_FAILED",
          `${what}: the data is ${found ? `a ${found} image` : "not a PNG, JPEG, GIF or WebP image"}, not ${attachment.mediaType}`,
        );
      }
      const path = `${folder}/image-${index + 1}.${EXTENSIONS[found]}`;
      pending.push({ path, bytes });
      images.push({ mediaType: found, data: attachment.data });
      recorded.push({ type: "image", path, mediaType: found, size: bytes.length });
      continue;
    }
    const bytes = await workspace.read(attachment.path, MAX_IMAGE_BYTES);
    count(bytes.length, MAX_IMAGE_BYTES, what);
    const found = imageTypeOf(bytes);
    if (!found) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `${what}: ${attachment.path} is not a PNG, JPEG, GIF or WebP image`,
      );
    }
    images.push({ mediaType: found, data: Buffer.from(bytes).toString("base64") });
    recorded.push({ type: "image", path: attachment.path, mediaType: found, size: bytes.length });
  }
  for (const { path, bytes } of pending) await workspace.write(path, bytes);
  const text =
    files.length === 0 ? content : `${content}\n\nAttached files (in the workspace): ${files.join(", ")}`;
  return { content: text, images, attachments: recorded };
}
