import type { KeyProxyConfig } from "./key-proxy-main.js";
import type { ModalSandboxHandle } from "./modal-client.js";
import { commandFailure, runCommand } from "./modal-sandbox.js";
import { SANDBOX_RUNNER_DIR } from "./modal-sandbox-options.js";
import { installRunnerCommand } from "./sandbox-commands.js";

/** The key proxy's file in the sandbox, beside the runner. */
export const KEY_PROXY_PATH = `${SANDBOX_RUNNER_DIR}/key-proxy.mjs`;

/**
 * Uploads the model key proxy (`key-proxy-main.ts`, bundled) read-only and
 * root-owned beside the runner, and starts it as root with `config` (the
 * key included) on its stdin: the key is in no environment, argument or
 * file of the sandbox, and the proxy runs as root, so the agent's uid
 * (`NoNewPrivs`) can neither read its memory or environment nor trace it.
 * Resolves once every route listens and `/etc/hosts` points the routes'
 * names at it; throws `SANDBOX_FAILED` saying why otherwise.
 */
export async function startKeyProxy(
  handle: ModalSandboxHandle,
  code: Uint8Array,
  config: KeyProxyConfig,
): Promise<void> {
  const upload = "upload the model key proxy";
  const uploaded = await runCommand(
    handle,
    upload,
    installRunnerCommand(SANDBOX_RUNNER_DIR, "key-proxy.mjs"),
    code,
  );
  if (uploaded.code !== 0) throw commandFailure(upload, uploaded);
  const start = "start the model key proxy";
  const started = await runCommand(
    handle,
    start,
    [
      "sh",
      "-c",
      'mkdir -p -m 700 /run/agent-runtime && exec node "$1"',
      "agent-runtime-key-proxy",
      KEY_PROXY_PATH,
    ],
    Buffer.from(JSON.stringify(config)),
  );
  if (started.code !== 0 || !Buffer.from(started.stdout).toString("utf8").startsWith("ready ")) {
    throw commandFailure(start, started);
  }
}
