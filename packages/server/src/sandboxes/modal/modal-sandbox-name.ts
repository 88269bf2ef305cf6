import { createHash } from "node:crypto";

const MAX_LENGTH = 64;
const ALLOWED = /^[A-Za-z0-9._-]+$/;
/** Modal rejects names that look like App ids. */
const APP_ID = /^ap-[A-Za-z0-9]{22}$/;
const HASH_LENGTH = 12;

/**
 * The Modal sandbox name for a `SandboxSpec.name`. Pure and deterministic, so
 * any server process finds a session's sandbox again (`attach`). A valid name
 * is kept as it is; any other is reduced to Modal's charset and length and
 * suffixed with a hash of the original, so two different names never map to
 * the same sandbox.
 */
export function modalSandboxName(name: string): string {
  if (name.length > 0 && name.length <= MAX_LENGTH && ALLOWED.test(name) && !APP_ID.test(name)) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, HASH_LENGTH);
  const readable = name
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, MAX_LENGTH - HASH_LENGTH - 1);
  return readable === "" ? hash : `${readable}-${hash}`;
}
