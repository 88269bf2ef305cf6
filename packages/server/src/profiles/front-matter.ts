import { parse } from "yaml";
import { errorMessage, RuntimeError } from "../errors.js";

export interface FrontMatterDocument {
  /** The YAML mapping between the `---` lines; `{}` when there is none. */
  attributes: Record<string, unknown>;
  /** The text after the closing `---` line, leading blank lines removed. */
  body: string;
}

/**
 * Splits a Markdown file into its YAML front matter and body. A file that does
 * not start with a `---` line has no front matter. Throws `VALIDATION_FAILED`
 * naming `source` when the block is unterminated, is invalid YAML, or is not
 * a mapping.
 */
export function splitFrontMatter(text: string, source: string): FrontMatterDocument {
  const content = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const opening = /^---[ \t]*\r?\n/.exec(content);
  if (!opening) return { attributes: {}, body: content };
  const rest = content.slice(opening[0].length);
  const closing = /^---[ \t]*(?:\r?\n|$)/m.exec(rest);
  if (!closing) {
    throw new RuntimeError("VALIDATION_FAILED", `${source}: front matter has no closing '---' line`);
  }
  let attributes: unknown;
  try {
    attributes = parse(rest.slice(0, closing.index));
  } catch (error) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `${source}: invalid YAML front matter: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  if (attributes !== null && attributes !== undefined && !isRecord(attributes)) {
    throw new RuntimeError("VALIDATION_FAILED", `${source}: front matter must be a YAML mapping`);
  }
  return {
    attributes: attributes ?? {},
    body: rest.slice(closing.index + closing[0].length).replace(/^(?:[ \t]*\r?\n)+/, ""),
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
