import { useWorkspaceFiles } from "@agent-runtime/react";
import { useMemo, useState } from "react";
import { buildFileTree } from "../file-tree.js";
import { FileTree } from "./FileTree.js";
import { FileViewer } from "./FileViewer.js";

/** The session's workspace: a live file tree and a viewer for the chosen file. */
export function WorkspacePanel({ sessionId }: { readonly sessionId: string }) {
  const { files } = useWorkspaceFiles(sessionId);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const tree = useMemo(() => buildFileTree(files), [files]);
  const file = files.find((f) => f.path === selected);
  return (
    <aside className="workspace" aria-label="Workspace">
      <div className="workspace-head">
        <h2>Workspace</h2>
        <span className="muted small">
          {files.length} {files.length === 1 ? "file" : "files"}
        </span>
      </div>
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
