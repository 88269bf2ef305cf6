import { readFile } from "node:fs/promises";
import { z } from "zod";
import { MockModelError } from "../errors.js";
import { type Script, type ScriptInput, scriptSchema } from "./schema.js";

/**
 * Validates and normalizes a script given as a TypeScript object or parsed
 * JSON: `{rules, fallback?, defaults?}` or just the array of rules.
 * @throws MockModelError `invalid_script` with a readable list of problems.
 */
export function parseScript(input: ScriptInput | unknown): Script {
  const parsed = scriptSchema.safeParse(Array.isArray(input) ? { rules: input } : input);
  if (!parsed.success)
    throw new MockModelError("invalid_script", `Invalid script:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * Reads and validates a JSON script file.
 * @throws MockModelError `invalid_script` when the file is not JSON or not a valid script; fs errors as they are.
 */
export async function loadScriptFile(path: string): Promise<Script> {
  const text = await readFile(path, "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MockModelError("invalid_script", `${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseScript(json);
}
