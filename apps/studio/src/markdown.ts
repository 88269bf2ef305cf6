import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import { Marked } from "marked";

for (const [name, language] of Object.entries({
  bash,
  css,
  diff,
  go,
  javascript,
  json,
  markdown,
  python,
  rust,
  sql,
  typescript,
  xml,
  yaml,
})) {
  hljs.registerLanguage(name, language);
}

const extensionLanguages: Record<string, string> = {
  sh: "bash",
  bash: "bash",
  zsh: "bash",
  css: "css",
  diff: "diff",
  patch: "diff",
  go: "go",
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "javascript",
  json: "json",
  md: "markdown",
  py: "python",
  rs: "rust",
  sql: "sql",
  ts: "typescript",
  tsx: "typescript",
  mts: "typescript",
  html: "xml",
  xml: "xml",
  svg: "xml",
  yml: "yaml",
  yaml: "yaml",
};

/** The highlight.js language for a file name, or undefined (then shown as plain text). */
export function languageForPath(path: string): string | undefined {
  const extension = path.split(".").pop()?.toLowerCase() ?? "";
  return extensionLanguages[extension];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Highlighted HTML for `code` (escaped; safe to inject). Unknown or absent
 * languages give escaped plain text.
 */
export function highlightCode(code: string, language: string | undefined): string {
  const known = language && hljs.getLanguage(language) ? language : undefined;
  return known ? hljs.highlight(code, { language: known, ignoreIllegals: true }).value : escapeHtml(code);
}

const marked = new Marked({
  gfm: true,
  renderer: {
    code({ text, lang }) {
      const language = lang?.trim().split(/\s+/, 1)[0]?.toLowerCase();
      const resolved = language ? (extensionLanguages[language] ?? language) : undefined;
      return `<pre class="code"><code class="hljs">${highlightCode(text, resolved)}</code></pre>`;
    },
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

/** Markdown (GFM) to sanitized HTML: scripts, event handlers and `javascript:` URLs are removed. */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}
