import {
  type ImageMediaType,
  imageMediaTypeSchema,
  imageTypeOf as imageTypeOfBytes,
  MAX_ATTACHED_FILE_BYTES,
  MAX_ATTACHMENT_BYTES,
  MAX_ATTACHMENTS,
  MAX_IMAGE_BYTES,
  type MessageAttachment,
} from "@agent-runtime/protocol";
import { bytes } from "./format.js";

/** Longest attached file name the server takes. */
const MAX_NAME_LENGTH = 255;

/** An image or file waiting in the composer, read and ready to send. */
export interface DraftAttachment {
  readonly id: string;
  readonly name: string;
  readonly size: number;
  /** Set for an image the models take; any other file is sent as a file. */
  readonly mediaType: ImageMediaType | undefined;
  /** The bytes, base64. */
  readonly data: string;
  /** An object URL of the image for its thumbnail; revoke with `releaseDraft`. */
  readonly previewUrl: string | undefined;
}

/** The image media type a file is sent as, or undefined when it goes as a file. */
function imageTypeOf(file: File): ImageMediaType | undefined {
  const parsed = imageMediaTypeSchema.safeParse(file.type);
  return parsed.success ? parsed.data : undefined;
}

/** A name the server accepts for an attached file (no folders, at most 255 characters). */
function fileNameOf(file: File): string {
  const name = file.name.replace(/[/\\\0]/g, "_");
  if (!name || name === "." || name === "..") return "attachment";
  if (name.length <= MAX_NAME_LENGTH) return name;
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  return name.slice(0, MAX_NAME_LENGTH - extension.length) + extension;
}

/**
 * Splits `files` into those that may join `current` and a problem for each
 * that may not, with the limits of `messageAttachmentSchema`: at most
 * `MAX_ATTACHMENTS` in a message, an image up to `MAX_IMAGE_BYTES`, a file
 * up to `MAX_ATTACHED_FILE_BYTES`, `MAX_ATTACHMENT_BYTES` together, nothing
 * empty. Reads no bytes.
 */
export function admitFiles(
  current: readonly DraftAttachment[],
  files: readonly File[],
): { accepted: File[]; problems: string[] } {
  const accepted: File[] = [];
  const problems: string[] = [];
  let count = current.length;
  let total = current.reduce((sum, a) => sum + a.size, 0);
  for (const file of files) {
    const name = file.name || "The pasted file";
    const limit = imageTypeOf(file) ? MAX_IMAGE_BYTES : MAX_ATTACHED_FILE_BYTES;
    if (count >= MAX_ATTACHMENTS) {
      problems.push(`${name} was not added: a message carries at most ${MAX_ATTACHMENTS} attachments.`);
    } else if (file.size === 0) {
      problems.push(`${name} is empty.`);
    } else if (file.size > limit) {
      problems.push(
        `${name} is ${bytes(file.size)}: ${imageTypeOf(file) ? "an image" : "a file"} can be at most ${bytes(limit)}.`,
      );
    } else if (total + file.size > MAX_ATTACHMENT_BYTES) {
      problems.push(
        `${name} was not added: a message's attachments can hold at most ${bytes(MAX_ATTACHMENT_BYTES)} together.`,
      );
    } else {
      accepted.push(file);
      count += 1;
      total += file.size;
    }
  }
  return { accepted, problems };
}

let nextId = 0;

/**
 * Reads an admitted file into a draft attachment (an image gets a preview
 * URL). An image is sent as the type its bytes show; rejects, with a message
 * for people, when a file typed as an image holds none or cannot be read.
 */
export async function readDraft(file: File): Promise<DraftAttachment> {
  let mediaType = imageTypeOf(file);
  if (mediaType) {
    const found = imageTypeOfBytes(new Uint8Array(await file.slice(0, 12).arrayBuffer()));
    if (!found) throw new Error(`${file.name || "The pasted image"} is not a PNG, JPEG, GIF or WebP image.`);
    mediaType = found;
  }
  const dataUrl = await new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error(`Could not read ${file.name || "the pasted file"}.`));
    reader.readAsDataURL(file);
  });
  nextId += 1;
  return {
    id: `draft-${nextId}`,
    name: mediaType ? file.name || "image" : fileNameOf(file),
    size: file.size,
    mediaType,
    data: dataUrl.slice(dataUrl.indexOf(",") + 1),
    previewUrl: mediaType ? URL.createObjectURL(file) : undefined,
  };
}

/** Frees a draft's preview URL; call once it is removed or sent. */
export function releaseDraft(draft: DraftAttachment): void {
  if (draft.previewUrl) URL.revokeObjectURL(draft.previewUrl);
}

/** A draft as the message request carries it. */
export function toMessageAttachment(draft: DraftAttachment): MessageAttachment {
  return draft.mediaType
    ? { type: "image", mediaType: draft.mediaType, data: draft.data }
    : { type: "file", name: draft.name, data: draft.data };
}

/** The files a paste or drop carries (none for plain text). */
export function filesOf(transfer: DataTransfer | null): File[] {
  if (!transfer) return [];
  if (transfer.files.length > 0) return [...transfer.files];
  return [...transfer.items].flatMap((item) => {
    const file = item.kind === "file" ? item.getAsFile() : null;
    return file ? [file] : [];
  });
}

/** True while a drag carries files (their names are hidden until the drop). */
export function dragHasFiles(transfer: DataTransfer | null): boolean {
  return transfer?.types.includes("Files") ?? false;
}
