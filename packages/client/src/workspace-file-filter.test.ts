import type { WorkspaceFile } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { filterWorkspaceFiles } from "./workspace-file-filter.js";

const file = (path: string): WorkspaceFile => ({ path, size: 1, modifiedAt: "2026-01-01T00:00:00.000Z" });
const files = [
  ".env",
  "README.md",
  "docs/guide.MD",
  "src/index.ts",
  "src/types.d.ts",
  "src/ui/app.tsx",
  "src/ui/style.css",
].map(file);
const paths = (filter: Parameters<typeof filterWorkspaceFiles>[1]) =>
  filterWorkspaceFiles(files, filter).map((f) => f.path);

describe("filterWorkspaceFiles", () => {
  it("returns the same list without a filter", () => {
    expect(filterWorkspaceFiles(files, {})).toBe(files);
    expect(filterWorkspaceFiles(files, undefined)).toBe(files);
  });

  it("matches globs on the workspace-relative path, dot files included", () => {
    expect(paths({ glob: "src/**/*.ts" })).toEqual(["src/index.ts", "src/types.d.ts"]);
    expect(paths({ glob: "*.md" })).toEqual(["README.md"]);
    expect(paths({ glob: ["src/ui/*", ".*"] })).toEqual([".env", "src/ui/app.tsx", "src/ui/style.css"]);
    expect(paths({ glob: "src/**/*.{ts,tsx}" })).toEqual([
      "src/index.ts",
      "src/types.d.ts",
      "src/ui/app.tsx",
    ]);
    expect(paths({ glob: [] })).toEqual([]);
  });

  it("matches extensions with or without the dot, in any case, multi-part ones included", () => {
    expect(paths({ extensions: ["md"] })).toEqual(["README.md", "docs/guide.MD"]);
    expect(paths({ extensions: [".tsx", "CSS"] })).toEqual(["src/ui/app.tsx", "src/ui/style.css"]);
    expect(paths({ extensions: [".d.ts"] })).toEqual(["src/types.d.ts"]);
    // `.env` is a name, not an extension.
    expect(paths({ extensions: ["env"] })).toEqual([]);
  });

  it("keeps files that pass both the globs and the extensions", () => {
    expect(paths({ glob: "src/**", extensions: ["ts"] })).toEqual(["src/index.ts", "src/types.d.ts"]);
  });
});
