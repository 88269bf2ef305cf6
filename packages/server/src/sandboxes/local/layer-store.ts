import { randomUUID } from "node:crypto";
import { constants, existsSync } from "node:fs";
import { chmod, lchown, lstat, mkdir, open, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { RuntimeError } from "../../errors.js";
import { SANDBOX_LAYER_DIR, type SandboxLayerSpec } from "../sandbox-provider.js";

const LAYER_KEY = /^[0-9a-f]{16,128}$/;

/**
 * The layers of a local provider, `<rootDir>/.layers/<key>/`: each built
 * once into a staging folder by a sandbox of its own, then sealed (owned by
 * the server's user, nothing writable but by it) and renamed into place, so
 * a layer that exists is complete. Concurrent `prepare`s of one key share
 * one build; a build that fails leaves nothing behind, and the next
 * `prepare` tries again.
 */
export class LayerStore {
  private readonly building = new Map<string, Promise<void>>();
  /** Staging folders a process that stopped mid-build left, removed once, before this process's first build. */
  private leftovers: Promise<void> | undefined;

  constructor(private readonly dir: string) {}

  /** Host folder of a built layer. */
  pathOf(key: string): string {
    assertLayerKey(key);
    return join(this.dir, key);
  }

  has(key: string): boolean {
    return existsSync(this.pathOf(key));
  }

  /**
   * bwrap arguments mounting the built layer `key` read-only at
   * `SANDBOX_LAYER_DIR`, its `node_modules` reachable as `/node_modules`.
   * Throws `SANDBOX_FAILED` when it is not built.
   */
  mountArgs(key: string): string[] {
    if (!this.has(key))
      throw new RuntimeError("SANDBOX_FAILED", `Layer ${key} is not built (prepareLayer first)`);
    return [
      "--ro-bind",
      this.pathOf(key),
      SANDBOX_LAYER_DIR,
      "--symlink",
      `${SANDBOX_LAYER_DIR}/node_modules`,
      "/node_modules",
    ];
  }

  /**
   * Builds `spec.key` unless built: writes `spec.files` into a new staging
   * folder, hands it to `build` (which runs the commands in it), seals it
   * and renames it into place.
   */
  prepare(spec: SandboxLayerSpec, build: (staging: string) => Promise<void>): Promise<void> {
    const { key } = spec;
    assertLayerKey(key);
    const running = this.building.get(key);
    if (running) return running;
    if (this.has(key)) return Promise.resolve();
    const task = this.build(spec, build).finally(() => this.building.delete(key));
    this.building.set(key, task);
    return task;
  }

  /** Removes the staging folders of builds that never finished (the server stopped during them). */
  private async removeLeftovers(): Promise<void> {
    const names = await readdir(this.dir);
    await Promise.all(
      names
        .filter((name) => name.startsWith(".build-"))
        .map((name) => rm(join(this.dir, name), { recursive: true, force: true })),
    );
  }

  private async build(spec: SandboxLayerSpec, build: (staging: string) => Promise<void>): Promise<void> {
    // Sandbox users must pass through the store (never list it) to reach their staging folder.
    await mkdir(this.dir, { recursive: true, mode: 0o711 });
    await chmod(this.dir, 0o711);
    this.leftovers ??= this.removeLeftovers();
    await this.leftovers;
    const staging = join(this.dir, `.build-${spec.key}-${randomUUID().slice(0, 8)}`);
    await mkdir(staging, { mode: 0o700 });
    try {
      for (const file of spec.files) {
        const target = join(staging, ...layerRelativeSegments(file.path));
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, file.content, { flag: "wx" });
      }
      await build(staging);
      await seal(staging);
      try {
        await rename(staging, this.pathOf(spec.key));
      } catch (error) {
        // Another process built the same key meanwhile: same content, keep theirs.
        if (!this.has(spec.key)) throw error;
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
}

/** Throws `VALIDATION_FAILED` unless `key` is a layer key (`[0-9a-f]{16,128}`). */
export function assertLayerKey(key: string): void {
  if (!LAYER_KEY.test(key)) {
    throw new RuntimeError("VALIDATION_FAILED", `Invalid layer key ${JSON.stringify(key.slice(0, 200))}`);
  }
}

/** The segments of a path relative to a layer; throws `INVALID_PATH` for one that leaves it. */
export function layerRelativeSegments(path: string): string[] {
  const segments = path.split("/");
  if (
    path === "" ||
    posix.isAbsolute(path) ||
    path.includes("\0") ||
    segments.some((segment) => segment === "" || segment === "." || segment === "..")
  ) {
    throw new RuntimeError("INVALID_PATH", `Invalid layer path ${JSON.stringify(path.slice(0, 200))}`);
  }
  return segments;
}

/**
 * Makes a built layer the server's: every entry owned by the server's user
 * (not the sandbox user that built it, which a later sandbox may get), and
 * readable, never writable, by others. What the build left is hostile: links
 * are never followed (each entry is opened `O_NOFOLLOW` and changed through
 * its descriptor), only regular files, folders and symbolic links are kept
 * (anything else is removed), and a file with another hard link (which could
 * be a file of the host's) fails the build.
 */
async function seal(root: string): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const visit = async (path: string): Promise<void> => {
    const stats = await lstat(path);
    if (stats.isSymbolicLink()) {
      await lchown(path, uid, gid);
      return;
    }
    if (!stats.isDirectory() && !stats.isFile()) {
      await rm(path, { force: true });
      return;
    }
    if (stats.isFile() && stats.nlink > 1) {
      throw new RuntimeError(
        "DEPENDENCIES_FAILED",
        `The layer's build left a hard link (${path.slice(root.length + 1)}); layers hold no hard links`,
      );
    }
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const opened = await handle.stat();
      if (opened.ino !== stats.ino || opened.dev !== stats.dev) {
        throw new RuntimeError("DEPENDENCIES_FAILED", "The layer changed while it was sealed");
      }
      await handle.chown(uid, gid);
      // Executables stay executable for everyone; nothing stays writable but by the owner.
      await handle.chmod(opened.isDirectory() || opened.mode & 0o111 ? 0o755 : 0o644);
    } finally {
      await handle.close();
    }
    if (stats.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(root);
}
