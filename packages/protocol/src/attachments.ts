import { z } from "zod";

const IMAGE_MEDIA_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"] as const;

/** Image types a message may carry (what the models accept); a refusal names the type and these. */
export const imageMediaTypeSchema = z.enum(IMAGE_MEDIA_TYPES, {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not an accepted image type: use ${IMAGE_MEDIA_TYPES.join(", ")}`,
});
export type ImageMediaType = z.infer<typeof imageMediaTypeSchema>;

/** Most attachments one message carries. */
export const MAX_ATTACHMENTS = 10;
/** Largest image, decoded (the models' own limit). */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
/** Largest attached file, decoded. */
export const MAX_ATTACHED_FILE_BYTES = 10 * 1024 * 1024;
/** Most bytes a message's attachments hold together, decoded. */
export const MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024;

/** Base64 (standard alphabet, padded or not) of at most `maxBytes` decoded bytes. */
const base64 = (maxBytes: number) =>
  z
    .string()
    .min(1)
    .max(Math.ceil(maxBytes / 3) * 4)
    .regex(
      /^[A-Za-z0-9+/]+={0,2}$/,
      "base64 (A–Z, a–z, 0–9, +, /, = padding), no data: prefix or whitespace",
    );

const inlineImageSchema = z.strictObject({
  type: z.literal("image"),
  mediaType: imageMediaTypeSchema,
  data: base64(MAX_IMAGE_BYTES),
});
const workspaceImageSchema = z.strictObject({ type: z.literal("image"), path: z.string().min(1).max(4096) });
const attachedFileSchema = z.strictObject({
  type: z.literal("file"),
  /** A file name (no folders). */
  name: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^/\\\0]+$/, "a file name, without folders")
    .refine((name) => name !== "." && name !== "..", "a file name, without folders"),
  data: base64(MAX_ATTACHED_FILE_BYTES),
});

/**
 * What a refused attachment is told, instead of zod's bare "Invalid input"
 * for a union: the problems of the shape it was meant to have, judged by
 * its `type` and keys (an image with `mediaType` or `data` is an inline
 * image, one with only `path` a workspace image).
 */
function explainAttachment(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== "invalid_union") return undefined;
  const input: unknown = issue.input;
  if (typeof input !== "object" || input === null || Array.isArray(input))
    return 'an attachment is an object: {type: "image", mediaType, data}, {type: "image", path} or {type: "file", name, data}';
  const has = (key: string) => Object.hasOwn(input, key);
  const { type } = input as { type?: unknown };
  let branch: number;
  if (type === "file") branch = 2;
  else if (type !== "image")
    return `${JSON.stringify(type ?? null)} is not an attachment type: use "image" or "file"`;
  else if (has("mediaType") || has("data")) branch = 0;
  else if (has("path")) branch = 1;
  else return "an image has either mediaType and data (its bytes, base64) or path (a workspace file)";
  const problems = issue.errors[branch] ?? [];
  if (problems.length === 0) return undefined;
  return problems.map((problem) => `${[...problem.path].join(".") || "/"}: ${problem.message}`).join("; ");
}

/**
 * What a message may carry besides its text: an image as base64, an image
 * already in the workspace (by path), or a file (placed in the workspace,
 * under `attachments/`, and named in the message the agent gets).
 */
export const messageAttachmentSchema = z.union(
  [inlineImageSchema, workspaceImageSchema, attachedFileSchema],
  {
    error: explainAttachment,
  },
);
export type MessageAttachment = z.infer<typeof messageAttachmentSchema>;

/**
 * An attachment as its message's `user_message` block records it: where it
 * is in the workspace (an inline image is stored there too), never its bytes.
 */
export const recordedAttachmentSchema = z.object({
  type: z.enum(["image", "file"]),
  /** Workspace path, relative. */
  path: z.string(),
  mediaType: z.string().optional(),
  size: z.number().int().nonnegative(),
});
export type RecordedAttachment = z.infer<typeof recordedAttachmentSchema>;

/** The image type its first bytes say (its signature), or undefined for anything else; the server checks every image with it. */
export function imageTypeOf(bytes: Uint8Array): ImageMediaType | undefined {
  const at = (offset: number, ...values: number[]) => values.every((value, i) => bytes[offset + i] === value);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (at(0, 0xff, 0xd8, 0xff)) return "image/jpeg";
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return "image/gif";
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return "image/webp";
  return undefined;
}
