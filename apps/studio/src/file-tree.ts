import type { WorkspaceFile } from "@agent-runtime/protocol";

export interface TreeDirectory {
  readonly kind: "directory";
  readonly name: string;
  /** Path from the workspace root, without trailing slash ("" for the root). */
  readonly path: string;
  readonly children: TreeNode[];
}

export interface TreeFile {
  readonly kind: "file";
  readonly name: string;
  readonly file: WorkspaceFile;
}

export type TreeNode = TreeDirectory | TreeFile;

/** A directory tree from a flat file index; directories first, then names in order. */
export function buildFileTree(files: readonly WorkspaceFile[]): TreeDirectory {
  const root: TreeDirectory = { kind: "directory", name: "", path: "", children: [] };
  for (const file of files) {
    const parts = file.path.split("/").filter(Boolean);
    let directory = root;
    for (const part of parts.slice(0, -1)) {
      let next = directory.children.find(
        (child): child is TreeDirectory => child.kind === "directory" && child.name === part,
      );
      if (!next) {
        next = {
          kind: "directory",
          name: part,
          path: directory.path ? `${directory.path}/${part}` : part,
          children: [],
        };
        directory.children.push(next);
      }
      directory = next;
    }
    directory.children.push({ kind: "file", name: parts.at(-1) ?? file.path, file });
  }
  sortTree(root);
  return root;
}

function sortTree(directory: TreeDirectory): void {
  directory.children.sort((a, b) =>
    a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === "directory" ? -1 : 1,
  );
  for (const child of directory.children) if (child.kind === "directory") sortTree(child);
}
