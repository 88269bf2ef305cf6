import type { WorkspaceFile } from "@agent-runtime/protocol";
import { useAgentClient } from "@agent-runtime/react";
import { useEffect, useState } from "react";
import { bytes } from "../format.js";
import { languageForPath } from "../markdown.js";
import { saveBytes } from "../save-bytes.js";
import { CodeView } from "./CodeView.js";

interface FileViewerProps {
  readonly sessionId: string;
  readonly file: WorkspaceFile;
  onClose(): void;
}

/** Files larger than this are offered for download only. */
const PREVIEW_LIMIT = 512 * 1024;

type Content =
  | { readonly state: "loading" }
  | { readonly state: "text"; readonly text: string }
  | { readonly state: "binary" }
  | { readonly state: "failed"; readonly message: string };

/** A workspace file's content (reloaded when the file changes), with a download button. */
export function FileViewer({ sessionId, file, onClose }: FileViewerProps) {
  const client = useAgentClient();
  const [content, setContent] = useState<Content>({ state: "loading" });

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new modifiedAt means new content to fetch
  useEffect(() => {
    if (file.size > PREVIEW_LIMIT) {
      setContent({ state: "binary" });
      return;
    }
    let live = true;
    client.rest
      .readFileBytes(sessionId, file.path)
      .then((data) => {
        if (!live) return;
        try {
          setContent({ state: "text", text: new TextDecoder("utf-8", { fatal: true }).decode(data) });
        } catch {
          setContent({ state: "binary" });
        }
      })
      .catch((failure: unknown) => live && setContent({ state: "failed", message: String(failure) }));
    return () => {
      live = false;
    };
  }, [client, sessionId, file.path, file.size, file.modifiedAt]);

  const download = async () => {
    const data = await client.rest.readFileBytes(sessionId, file.path);
    saveBytes(data, file.path.split("/").pop() ?? "file");
  };

  return (
    <div className="file-viewer" data-testid="file-viewer">
      <div className="file-viewer-head">
        <span className="file-viewer-path" title={file.path}>
          {file.path}
        </span>
        <span className="muted small">{bytes(file.size)}</span>
        <button type="button" className="button ghost small" onClick={() => void download()}>
          Download
        </button>
        <button type="button" className="button ghost small" aria-label="Close file" onClick={onClose}>
          ✕
        </button>
      </div>
      <div className="file-viewer-body">
        {content.state === "loading" ? <p className="muted small">Loading…</p> : null}
        {content.state === "failed" ? <p className="form-error small">{content.message}</p> : null}
        {content.state === "binary" ? (
          <p className="muted small">No preview (binary or large file). Use Download.</p>
        ) : null}
        {content.state === "text" ? (
          <CodeView code={content.text} language={languageForPath(file.path)} className="file-code" />
        ) : null}
      </div>
    </div>
  );
}
