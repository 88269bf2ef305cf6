import { useAgentClient, useWorkspaceFiles } from "@agent-runtime/react";
import { useMemo, useState } from "react";
import { buildFileTree } from "../file-tree.js";
import { saveBytes } from "../save-bytes.js";
import { FileTree } from "./FileTree.js";
import { FileViewer } from "./FileViewer.js";

/** The session's workspace: a live file tree, a viewer for the chosen file, and a download of all of it. */
export function WorkspacePanel({ sessionId }: { readonly sessionId: string }) {
  const client = useAgentClient();
  const { files } = useWorkspaceFiles(sessionId);
  const [download, setDownload] = useState<{ busy: boolean; error?: string }>({ busy: false });
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const tree = useMemo(() => buildFileTree(files), [files]);
  const file = files.find((f) => f.path === selected);

  const downloadAll = async () => {
    setDownload({ busy: true });
    try {
      const archive = await client.rest.downloadWorkspace(sessionId);
      saveBytes(archive, `workspace-${sessionId.slice(0, 8)}.tar.gz`, "application/gzip");
      setDownload({ busy: false });
    } catch (failure) {
      setDownload({ busy: false, error: failure instanceof Error ? failure.message : String(failure) });
    }
  };

  return (
    <aside className="workspace" aria-label="Workspace">
      <div className="workspace-head">
        <h2>Workspace</h2>
        <span className="workspace-actions">
          <span className="muted small">
            {files.length} {files.length === 1 ? "file" : "files"}
          </span>
          <button
            type="button"
            className="button ghost small"
            disabled={files.length === 0 || download.busy}
            title="Download the whole workspace as .tar.gz"
            onClick={() => void downloadAll()}
          >
            {download.busy ? "Preparing…" : "Download all"}
          </button>
        </span>
      </div>
      {download.error ? <p className="form-error small workspace-empty">{download.error}</p> : null}
      <div className="workspace-tree">
        {files.length === 0 ? (
          <p className="muted small workspace-empty">No files yet.</p>
        ) : (
          <FileTree directory={tree} selected={selected} onSelect={setSelected} depth={0} />
        )}
      </div>
      {file ? (
        <FileViewer
          key={file.path}
          sessionId={sessionId}
          file={file}
          onClose={() => setSelected(undefined)}
        />
      ) : selected ? (
        <p className="muted small workspace-empty">{selected} was deleted.</p>
      ) : null}
    </aside>
  );
}
