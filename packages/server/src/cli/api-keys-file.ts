import { open } from "node:fs/promises";
import { z } from "zod";
import { errorMessage, RuntimeError } from "../errors.js";
import { describeZodIssues } from "../profiles/validate-input.js";
import { type ApiKeyEntry, apiKeyEntrySchema } from "../transport/api-keys.js";

/** Largest keys file read. */
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * A `--api-keys-file`: `{"keys": [...]}`, each entry an admin key (a string)
 * or `{"tenant": "...", "key": "..."}` (see `ApiKeyEntry`), e.g.
 * `{"keys": ["admin-key", {"tenant": "acme", "key": "acme-key"}]}`.
 */
const apiKeysFileSchema = z.strictObject({ keys: z.array(apiKeyEntrySchema).max(100_000) });

/**
 * The entries of the keys file at `path`. Throws `VALIDATION_FAILED` naming
 * the file (never a key) when it cannot be read, is larger than 1 MiB, is
 * not JSON or not of the format above.
 */
export async function readApiKeysFile(path: string): Promise<ApiKeyEntry[]> {
  let text: string;
  try {
    const file = await open(path, "r");
    try {
      const { size } = await file.stat();
      if (size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      text = await file.readFile("utf8");
    } finally {
      await file.close();
    }
  } catch (error) {
    throw new RuntimeError("VALIDATION_FAILED", `API keys file ${path}: ${errorMessage(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RuntimeError("VALIDATION_FAILED", `API keys file ${path}: not valid JSON`);
  }
  const parsed = apiKeysFileSchema.safeParse(value);
  if (!parsed.success)
    throw new RuntimeError("VALIDATION_FAILED", `API keys file ${path}: ${describeZodIssues(parsed.error)}`);
  return parsed.data.keys;
}
