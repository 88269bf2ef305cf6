import { useMemo } from "react";
import { highlightCode } from "../markdown.js";

interface CodeViewProps {
  readonly code: string;
  /** A highlight.js language name; plain text when absent or unknown. */
  readonly language?: string | undefined;
  readonly className?: string;
}

/** Preformatted, highlighted code. */
export function CodeView({ code, language, className }: CodeViewProps) {
  const html = useMemo(() => highlightCode(code, language), [code, language]);
  return (
    <pre className={`code ${className ?? ""}`}>
      {/* biome-ignore lint/security/noDangerouslySetInnerHtml: highlightCode escapes its input */}
      <code className="hljs" dangerouslySetInnerHTML={{ __html: html }} />
    </pre>
  );
}
