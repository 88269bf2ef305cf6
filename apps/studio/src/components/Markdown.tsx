import { useMemo } from "react";
import { renderMarkdown } from "../markdown.js";

/** Sanitized Markdown (GFM) with highlighted code blocks. */
export function Markdown({ text }: { readonly text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // biome-ignore lint/security/noDangerouslySetInnerHtml: the HTML is sanitized by DOMPurify in renderMarkdown
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}
