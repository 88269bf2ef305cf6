import { RuntimeError } from "../../errors.js";
import type { Sandbox, SandboxCapabilities, SandboxProvider, SandboxSpec } from "../sandbox-provider.js";
import {
  createModalClient,
  type ModalClientSeam,
  type ModalSandboxHandle,
  type ModalSandboxRequest,
} from "./modal-client.js";
import {
  isModalAlreadyExists,
  isModalNotFound,
  MISSING_CREDENTIALS_MESSAGE,
  modalFailure,
} from "./modal-errors.js";
import { sandboxImageSpec } from "./modal-image.js";
import { commandFailure, modalSandbox, runCommand } from "./modal-sandbox.js";
import { modalSandboxName } from "./modal-sandbox-name.js";
import {
  type ModalSandboxOptions,
  modalSandboxOptionsSchema,
  type ResolvedModalSandboxOptions,
} from "./modal-sandbox-options.js";
import { stopCommandsCommand } from "./sandbox-commands.js";

/**
 * Sandboxes on Modal (https://modal.com), one per session, named after
 * `SandboxSpec.name` inside one Modal App. A sandbox's files live only as
 * long as it runs. `create` takes over a sandbox of that name that another
 * server process left running (`attach`), so a restarted server picks its
 * sessions' sandboxes up with their files. Processes run as a non-root uid
 * with `NoNewPrivs`; the system outside workspace and home stays writable by
 * root only, but is not read-only (`readOnlySystem: false`). Egress follows
 * `options.network` for every sandbox (`networkPolicy` is true when a policy
 * is configured).
 *
 * No I/O at construction. Throws `VALIDATION_FAILED` for invalid options.
 */
export function createModalSandboxProvider(input: ModalSandboxOptions = {}): SandboxProvider {
  const parsed = modalSandboxOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new RuntimeError("VALIDATION_FAILED", `Invalid Modal sandbox options: ${parsed.error.message}`);
  }
  const options = parsed.data;
  const { network } = options;
  const capabilities: SandboxCapabilities = {
    attach: true,
    nonRootUser: true,
    readOnlySystem: false,
    networkPolicy: network.blockAll || network.allowCidrs !== undefined || network.allowDomains !== undefined,
  };

  let client: ModalClientSeam | undefined;
  /** The SDK seam, created on first use; throws before any network call when credentials are missing. */
  const connect = (): ModalClientSeam => {
    if (client) return client;
    const { tokenId, tokenSecret, environment } = options;
    if (!tokenId || !tokenSecret) throw new RuntimeError("SANDBOX_FAILED", MISSING_CREDENTIALS_MESSAGE);
    client = (options.createClient ?? createModalClient)({
      tokenId,
      tokenSecret,
      ...(environment === undefined ? {} : { environment }),
    });
    return client;
  };

  return {
    id: "modal",
    capabilities,

    /** One authenticated call (looks up, or creates, the App). */
    async check() {
      const seam = connect();
      try {
        await seam.ensureApp(options.appName);
      } catch (error) {
        throw modalFailure(`check (app "${options.appName}")`, error);
      }
    },

    /**
     * Builds the image on first use (minutes, then cached), then starts the
     * sandbox. When a sandbox of that name already runs (left by a server
     * process that stopped without terminating it), takes it over instead:
     * its files stay, the commands still running in it are killed.
     */
    async create(spec: SandboxSpec): Promise<Sandbox> {
      const seam = connect();
      const request = sandboxRequest(options, spec);
      try {
        const handle = await createOrTakeOver(seam, request);
        return modalSandbox(handle, { name: spec.name, ...(spec.env ? { env: spec.env } : {}) }, options);
      } catch (error) {
        throw modalFailure(`create sandbox "${request.params.name}"`, error);
      }
    },

    /** Terminates the sandbox of that name if one runs; Modal keeps nothing of a stopped sandbox. */
    async remove(name: string): Promise<void> {
      const seam = connect();
      const modalName = modalSandboxName(name);
      try {
        await (await seam.findSandbox(options.appName, modalName))?.terminate();
      } catch (error) {
        if (!isModalNotFound(error)) throw modalFailure(`remove sandbox "${modalName}"`, error);
      }
    },
  };
}

/**
 * Creates the sandbox, or takes over the one of the same name still running.
 * When that one stops between the refusal and the lookup, creates it again.
 */
async function createOrTakeOver(
  seam: ModalClientSeam,
  request: ModalSandboxRequest,
): Promise<ModalSandboxHandle> {
  try {
    return await seam.createSandbox(request);
  } catch (error) {
    if (!isModalAlreadyExists(error)) throw error;
  }
  const running = await seam.findSandbox(request.appName, request.params.name ?? "");
  if (!running) return seam.createSandbox(request);
  const operation = "stop the commands left running";
  const stopped = await runCommand(running, operation, stopCommandsCommand());
  if (stopped.code !== 0) throw commandFailure(operation, stopped);
  return running;
}

/** The complete Modal request for one sandbox: what the tests check. */
function sandboxRequest(options: ResolvedModalSandboxOptions, spec: SandboxSpec): ModalSandboxRequest {
  const { network } = options;
  return {
    appName: options.appName,
    image: sandboxImageSpec(options),
    secretNames: options.secrets,
    params: {
      name: modalSandboxName(spec.name),
      cpu: options.cpu,
      memoryMiB: options.memoryMiB,
      memoryLimitMiB: options.memoryMiB,
      timeoutMs: options.timeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      workdir: options.workspaceDir,
      env: { ...spec.env },
      ...(options.region ? { regions: [options.region] } : {}),
      ...(network.blockAll ? { blockNetwork: true } : {}),
      ...(network.allowCidrs ? { outboundCidrAllowlist: [...network.allowCidrs] } : {}),
      ...(network.allowDomains ? { outboundDomainAllowlist: [...network.allowDomains] } : {}),
    },
  };
}
