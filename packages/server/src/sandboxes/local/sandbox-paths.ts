import { join, posix } from "node:path";

import { RuntimeError } from "../../errors.js";
import { resolveAreaPath } from "../area-path.js";

export { isWithin } from "../../confined-path.js";

/** The two folders of a sandbox that persist on the host and that the agent may write. */
export type SandboxArea = "workspace" | "home";

export const sandboxAreas: readonly SandboxArea[] = ["workspace", "home"];

/**
 * How a sandbox's workspace and home are stored: `"image"`, folders on a
 * loop-mounted ext4 image (`disk.img`, mounted at `disk/`) whose size is the
 * disk quota; `"folders"`, plain host folders without a quota (hosts that
 * cannot loop-mount, and sandboxes created before images existed).
 */
export type SandboxStorage = "image" | "folders";

/**
 * Where a sandbox's folders are: `<rootDir>/<name>/{workspace,home,runtime}`
 * (`"folders"`) or `<rootDir>/<name>/{disk/workspace,disk/home,runtime}` with
 * `disk/` the mounted `disk.img` (`"image"`). `runtime/` is never visible rw
 * inside; it holds what the runtime owns.
 */
export interface SandboxLayout {
  /** Real host path of `<rootDir>/<name>`. */
  readonly sandboxDir: string;
  readonly storage: SandboxStorage;
  /** The disk image and where it is mounted (used only with `"image"` storage). */
  readonly disk: { readonly image: string; readonly mountDir: string };
  /** Runtime-owned host folder (read-only file copies, generated `/etc` files). */
  readonly runtimeDir: string;
  readonly areas: Readonly<Record<SandboxArea, { readonly inside: string; readonly host: string }>>;
}

/** A validated sandbox path and the host file it maps to. */
export interface SandboxPath {
  readonly area: SandboxArea;
  /** Path below the area's folder, `/`-separated, never empty. */
  readonly relative: string;
  /** The path as processes in the sandbox see it. */
  readonly inside: string;
  /** The same file on the host. */
  readonly host: string;
}

const SANDBOX_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * `realRootDir` must already be a real path (no symlinks). When `isolated`,
 * the areas appear at `/workspace` and `/home/agent` inside, whatever the
 * storage; otherwise processes run on the host and see the host folders.
 */
export function sandboxLayout(
  realRootDir: string,
  name: string,
  isolated: boolean,
  storage: SandboxStorage = "folders",
): SandboxLayout {
  if (!SANDBOX_NAME.test(name) || name === "." || name === "..") {
    throw new RuntimeError("VALIDATION_FAILED", `Invalid sandbox name ${JSON.stringify(name)}`);
  }
  const sandboxDir = join(realRootDir, name);
  const disk = { image: join(sandboxDir, "disk.img"), mountDir: join(sandboxDir, "disk") };
  const host = (area: SandboxArea) => join(storage === "image" ? disk.mountDir : sandboxDir, area);
  return {
    sandboxDir,
    storage,
    disk,
    runtimeDir: join(sandboxDir, "runtime"),
    areas: {
      workspace: { inside: isolated ? "/workspace" : host("workspace"), host: host("workspace") },
      home: { inside: isolated ? "/home/agent" : host("home"), host: host("home") },
    },
  };
}

/**
 * Validates an absolute sandbox path (`resolveAreaPath`) and maps it to the
 * host. Throws `INVALID_PATH`. It does not look at the file system: symlinks
 * are checked where files are accessed.
 */
export function resolveSandboxPath(layout: SandboxLayout, path: string): SandboxPath {
  const { workspace, home } = layout.areas;
  const resolved = resolveAreaPath({ workspaceDir: workspace.inside, homeDir: home.inside }, path);
  const area: SandboxArea = resolved.root === workspace.inside ? "workspace" : "home";
  return {
    area,
    relative: resolved.segments.join("/"),
    inside: resolved.path,
    host: join(layout.areas[area].host, ...resolved.segments),
  };
}

/** The validated path of a file below an area, given its `/`-separated relative path. */
export function areaPath(layout: SandboxLayout, area: SandboxArea, relative: string): SandboxPath {
  return resolveSandboxPath(layout, posix.join(layout.areas[area].inside, relative));
}
