import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FakeModalApi, startFakeModalApi } from "./modal-grpc-fake.js";

/*
 * The fake Modal API (modal-grpc-fake.ts) with containers: each fake
 * sandbox runs its commands in a mount namespace of its own, with its own
 * workspace, home, `/etc/hosts`, pid folder (`/run/agent-runtime`) and runner folder (the
 * runner bundle's packages linked from this repository's node_modules, as
 * the image's layers would install them). MODAL_SERVER_URL points the SDK
 * at the API until `close`. Needs root.
 */

/** Where the image installs the runner's packages and the provider uploads the runner. */
const RUNNER_DIR = "/opt/agent-runtime/runner";
const modules = fileURLToPath(new URL("../../../../node_modules/", import.meta.url));

/** The packages the built runner bundle needs beside it. */
function bundlePackages(): string[] {
  const manifest = fileURLToPath(new URL("../../../runner/dist/bundle/runner-bundle.json", import.meta.url));
  return Object.keys(
    (JSON.parse(readFileSync(manifest, "utf8")) as { packages: Record<string, string> }).packages,
  );
}

export interface FakeModalContainers {
  /** The API; MODAL_SERVER_URL points at the newest one started. */
  start(tokens: { tokenId: string; tokenSecret: string }): Promise<FakeModalApi>;
  /** Workspace and home as every fake sandbox sees them (give them to the provider). */
  readonly workspaceDir: string;
  readonly homeDir: string;
  /** Closes every API started and removes the containers' folders. */
  close(): Promise<void>;
}

/**
 * `hosts`: each container's own `/etc/hosts` as the image would have it
 * (what the provider's key proxy writes its lines into).
 */
export async function fakeModalContainers(options: { hosts?: string } = {}): Promise<FakeModalContainers> {
  const root = await mkdtemp(join(tmpdir(), "modal-containers-"));
  await chmod(root, 0o755);
  const workspaceDir = join(root, "workspace");
  const homeDir = join(root, "home");
  for (const folder of [workspaceDir, homeDir, "/run/agent-runtime", RUNNER_DIR]) {
    await mkdir(folder, { recursive: true });
  }
  const apis: FakeModalApi[] = [];
  const savedUrl = process.env.MODAL_SERVER_URL;
  return {
    workspaceDir,
    homeDir,
    async start(tokens) {
      const api = await startFakeModalApi(tokens, {
        containers: {
          dir: join(root, `containers-${apis.length + 1}`),
          folders: [
            { path: workspaceDir, uid: 1000, mode: 0o755 },
            { path: homeDir, uid: 1000, mode: 0o755 },
            { path: "/run/agent-runtime", uid: 0, mode: 0o700 },
            {
              path: RUNNER_DIR,
              uid: 0,
              mode: 0o755,
              links: Object.fromEntries(
                bundlePackages().map((name) => [`node_modules/${name}`, join(modules, name)]),
              ),
            },
          ],
          files: { "/etc/hosts": options.hosts ?? "127.0.0.1\tlocalhost\n::1\tlocalhost\n" },
        },
      });
      apis.push(api);
      process.env.MODAL_SERVER_URL = api.url;
      return api;
    },
    async close() {
      for (const api of apis.splice(0)) await api.close();
      if (savedUrl === undefined) delete process.env.MODAL_SERVER_URL;
      else process.env.MODAL_SERVER_URL = savedUrl;
      await rm(root, { recursive: true, force: true });
      // The shared mount points (/run/agent-runtime, RUNNER_DIR) stay: removing one would detach the bind mounts on it that other suites' sandboxes hold.
    },
  };
}
