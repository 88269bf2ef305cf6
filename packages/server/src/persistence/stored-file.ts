import { createHash } from "node:crypto";
import type { StoredFile, StoredFileInfo } from "./persistence-adapter.js";

/** Lowercase hex SHA-256 of `bytes`, as `StoredFileInfo.sha256` holds it. */
export function contentHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The stored form of `content` (text as UTF-8) at `path`: its bytes with their size and hash. */
export function storedFile(path: string, content: string | Uint8Array, modifiedAt: string): StoredFile {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  return { path, size: bytes.byteLength, sha256: contentHash(bytes), modifiedAt, content: bytes };
}

/** The stored form of a symbolic link at `path` to `target`: the target's bytes are its content. */
export function storedLink(path: string, target: string, modifiedAt: string): StoredFile {
  return { ...storedFile(path, target, modifiedAt), linkTarget: target };
}

/** What is kept of a stored file in memory: everything but its content. */
export function storedFileInfo({
  path,
  size,
  sha256,
  modifiedAt,
  linkTarget,
}: StoredFileInfo): StoredFileInfo {
  return { path, size, sha256, modifiedAt, ...(linkTarget === undefined ? {} : { linkTarget }) };
}
