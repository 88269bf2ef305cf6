import { RuntimeError } from "../../errors.js";
import { SANDBOX_LAYER_DIR, type SandboxLayerSpec } from "../sandbox-provider.js";
import type { ModalImageSpec } from "./modal-client.js";
import { shellQuote } from "./modal-image.js";

/** Bytes of `SandboxLayerSpec.files` a Modal layer takes: they travel inside the image's Dockerfile commands. */
export const MAX_LAYER_FILE_BYTES = 1024 * 1024;

/** The `PATH` of every process of a sandbox with a layer (`SandboxSpec.layer`). */
export const LAYER_PATH = [
  `${SANDBOX_LAYER_DIR}/node_modules/.bin`,
  `${SANDBOX_LAYER_DIR}/python/bin`,
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
].join(":");

/** The environment a layer adds to every process of its sandboxes. */
export const LAYER_ENV: Readonly<Record<string, string>> = {
  PATH: LAYER_PATH,
  PYTHONPATH: `${SANDBOX_LAYER_DIR}/python`,
};

/**
 * The image of the sandboxes that mount the layer `spec`: the runtime's
 * image (`base`), then, as Dockerfile commands Modal builds once and caches,
 * `spec.files` written into an empty `SANDBOX_LAYER_DIR`, each of
 * `spec.commands` run there (as root, with `spec.env`), and last the layer
 * made read-only and its `node_modules` linked at `/node_modules`. Scripts
 * travel base64-encoded, so no byte of a path, argument or file can end a
 * Dockerfile line or reach the shell unquoted. Throws `INVALID_PATH` for a
 * file or folder not confined to the layer, `VALIDATION_FAILED` for files
 * over `MAX_LAYER_FILE_BYTES`, and `SANDBOX_FAILED` for `hostFolders` (a
 * Modal build cannot see this machine's folders).
 */
export function layerImageSpec(base: ModalImageSpec, spec: SandboxLayerSpec): ModalImageSpec {
  if (!/^[0-9a-f]{16,128}$/.test(spec.key)) {
    throw new RuntimeError("VALIDATION_FAILED", `Invalid layer key "${spec.key.slice(0, 200)}"`);
  }
  if (spec.hostFolders && spec.hostFolders.length > 0) {
    throw new RuntimeError(
      "SANDBOX_FAILED",
      "The Modal sandbox provider cannot build a layer from folders of this machine (hostFolders): Modal builds images on its own machines",
    );
  }
  let bytes = 0;
  const steps = [`RUN rm -rf ${SANDBOX_LAYER_DIR} && mkdir -p ${SANDBOX_LAYER_DIR}`];
  for (const file of spec.files) {
    const path = layerPath(file.path);
    const content = typeof file.content === "string" ? Buffer.from(file.content) : Buffer.from(file.content);
    bytes += content.byteLength;
    if (bytes > MAX_LAYER_FILE_BYTES) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `The files of a Modal layer may hold at most ${MAX_LAYER_FILE_BYTES} bytes`,
      );
    }
    const target = `${SANDBOX_LAYER_DIR}/${path}`;
    steps.push(
      script(
        `mkdir -p ${shellQuote(target.slice(0, target.lastIndexOf("/")))} && ` +
          `printf %s ${shellQuote(content.toString("base64"))} | base64 -d > ${shellQuote(target)}`,
      ),
    );
  }
  const env = Object.entries(spec.env ?? {}).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `Invalid environment variable name "${name.slice(0, 200)}"`,
      );
    }
    return shellQuote(`${name}=${value}`);
  });
  for (const command of spec.commands) {
    if (command.command.length === 0)
      throw new RuntimeError("VALIDATION_FAILED", "A layer command needs an argv");
    const cwd =
      command.cwd === undefined || command.cwd === ""
        ? SANDBOX_LAYER_DIR
        : `${SANDBOX_LAYER_DIR}/${layerPath(command.cwd)}`;
    steps.push(
      script(`cd ${shellQuote(cwd)} && exec env ${[...env, ...command.command.map(shellQuote)].join(" ")}`),
    );
  }
  steps.push(
    `RUN mkdir -p ${SANDBOX_LAYER_DIR}/node_modules && chown -R 0:0 ${SANDBOX_LAYER_DIR} && ` +
      `chmod -R a-w ${SANDBOX_LAYER_DIR} && ln -sfn ${SANDBOX_LAYER_DIR}/node_modules /node_modules`,
  );
  return { base: base.base, dockerfileCommands: [...base.dockerfileCommands, ...steps] };
}

/** One `RUN` of a shell script, carried base64-encoded. */
function script(text: string): string {
  return `RUN echo ${Buffer.from(text).toString("base64")} | base64 -d | sh -e`;
}

/** A `/`-separated path relative to the layer, confined to it. */
function layerPath(path: string): string {
  const segments = path.split("/");
  if (
    path.length === 0 ||
    path.length > 4096 ||
    path.includes("\0") ||
    segments.some((segment) => segment === "" || segment === "." || segment === "..")
  ) {
    throw new RuntimeError("INVALID_PATH", `Layer path "${path.slice(0, 200)}" is not confined to the layer`);
  }
  return path;
}
