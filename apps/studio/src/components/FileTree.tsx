import { useState } from "react";
import type { TreeDirectory } from "../file-tree.js";
import { bytes } from "../format.js";

interface FileTreeProps {
  readonly directory: TreeDirectory;
  readonly selected: string | undefined;
  onSelect(path: string): void;
  readonly depth: number;
}

/** One directory's entries; sub-directories open by default and fold on click. */
export function FileTree({ directory, selected, onSelect, depth }: FileTreeProps) {
  const [folded, setFolded] = useState<ReadonlySet<string>>(new Set());
  const toggle = (path: string) =>
    setFolded((current) => {
      const next = new Set(current);
      if (!next.delete(path)) next.add(path);
      return next;
    });
  return (
    <ul className="file-tree">
      {directory.children.map((node) =>
        node.kind === "directory" ? (
          <li key={`d:${node.path}`}>
            <button
              type="button"
              className="tree-row directory"
              style={{ paddingLeft: `${0.5 + depth * 0.9}rem` }}
              aria-expanded={!folded.has(node.path)}
              onClick={() => toggle(node.path)}
            >
              <span className="tree-icon" aria-hidden="true">
                {folded.has(node.path) ? "▸" : "▾"}
              </span>
              {node.name}/
            </button>
            {folded.has(node.path) ? null : (
              <FileTree directory={node} selected={selected} onSelect={onSelect} depth={depth + 1} />
            )}
          </li>
        ) : (
          <li key={`f:${node.file.path}`}>
            <button
              type="button"
              className={`tree-row file ${node.file.path === selected ? "selected" : ""}`}
              style={{ paddingLeft: `${0.5 + depth * 0.9}rem` }}
              aria-current={node.file.path === selected ? "true" : undefined}
              onClick={() => onSelect(node.file.path)}
              data-path={node.file.path}
            >
              <span className="tree-icon" aria-hidden="true" />
              <span className="tree-name">{node.name}</span>
              <span className="muted small">{bytes(node.file.size)}</span>
            </button>
          </li>
        ),
      )}
    </ul>
  );
}
