import { errorMessage, RuntimeError } from "../../errors.js";
import type {
  Sandbox,
  SandboxCapabilities,
  SandboxLayerSpec,
  SandboxProvider,
  SandboxSpec,
} from "../sandbox-provider.js";
import {
  createModalClient,
  type ModalClientSeam,
  type ModalImageSpec,
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
import { LAYER_ENV, layerImageSpec } from "./modal-layer.js";
import { loadRunnerBundle, type RunnerBundle } from "./modal-runner-bundle.js";
import { commandFailure, modalSandbox, runCommand } from "./modal-sandbox.js";
import { modalSandboxName } from "./modal-sandbox-name.js";
import {
  type ModalSandboxOptions,
  modalSandboxOptionsSchema,
  type ResolvedModalSandboxOptions,
  SANDBOX_RUNNER_DIR,
} from "./modal-sandbox-options.js";
import { installRunnerCommand, stopCommandsCommand } from "./sandbox-commands.js";

/**
 * Why `create` refuses a `SandboxSpec.network` that lets the sandbox reach
 * anything: Modal enforces no per-port allow-list and runs no proxy outside
 * the sandbox that could add the model key to requests, so the guarantees
 * the policy stands for (only these endpoints; the key never inside) cannot
 * be given.
 */
export const MODAL_EGRESS_REFUSAL =
  "The Modal sandbox provider cannot restrict egress to the model endpoint while keeping the model API key out of the sandbox " +
  "(Modal has no per-port allow-list and no proxy outside the sandbox that adds the key to requests). " +
  "Start the server with --egress open to run on Modal knowingly: the agent then holds the key, " +
  "and the provider's own network option (allowDomains, allowCidrs, blockAll) limits where it can connect";

/**
 * The Modal tag holding when a sandbox's lifetime ends (ms since the epoch),
 * for a server process that takes the sandbox over.
 */
const EXPIRES_AT_TAG = "agent-runtime-expires-at";

/**
 * Sandboxes on Modal (https://modal.com), one per session, named after
 * `SandboxSpec.name` inside one Modal App. A sandbox's files live only as
 * long as it runs. `create` takes over a sandbox of that name that another
 * server process left running (`attach`), so a restarted server picks its
 * sessions' sandboxes up with their files. Processes run as a non-root uid
 * with `NoNewPrivs`; the system outside workspace and home stays writable by
 * root only, but is not read-only (`readOnlySystem: false`). Egress follows
 * `options.network` for every sandbox; a `SandboxSpec.network` is honoured
 * only when it allows nothing (see `MODAL_EGRESS_REFUSAL`). The runner
 * bundle is uploaded into every sandbox at `create`; layers
 * (`prepareLayer`) are image layers on top of the sandbox image.
 *
 * No I/O at construction. Throws `VALIDATION_FAILED` for invalid options.
 */
export function createModalSandboxProvider(input: ModalSandboxOptions = {}): SandboxProvider {
  const parsed = modalSandboxOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new RuntimeError("VALIDATION_FAILED", `Invalid Modal sandbox options: ${parsed.error.message}`);
  }
  const options = parsed.data;
  const capabilities: SandboxCapabilities = {
    attach: true,
    nonRootUser: true,
    readOnlySystem: false,
    // Declared so the runtime asks: `create` refuses what it cannot honour instead of the runtime handing the agent the key.
    networkPolicy: true,
    layers: true,
  };

  let client: ModalClientSeam | undefined;
  /** The SDK seam, created on first use; throws before any network call when credentials are missing. */
  const connect = (): ModalClientSeam => {
    if (client) return client;
    const { tokenId, tokenSecret, environment, sandboxBackend } = options;
    if (!tokenId || !tokenSecret) throw new RuntimeError("SANDBOX_FAILED", MISSING_CREDENTIALS_MESSAGE);
    client = (options.createClient ?? createModalClient)({
      tokenId,
      tokenSecret,
      ...(environment === undefined ? {} : { environment }),
      ...(sandboxBackend === undefined ? {} : { sandboxBackend }),
    });
    return client;
  };

  let bundle: Promise<RunnerBundle | null> | undefined;
  /** The runner bundle, read once (null when the image brings its own runner). */
  const runnerBundle = (): Promise<RunnerBundle | null> => {
    if (options.runnerBundle === null) return Promise.resolve(null);
    bundle ??= loadRunnerBundle(options.runnerBundle);
    bundle.catch(() => {
      bundle = undefined;
    });
    return bundle;
  };
  const baseImage = async (): Promise<ModalImageSpec> =>
    sandboxImageSpec(options, (await runnerBundle())?.packages ?? null);

  /** Layer images by key, and their builds (shared by concurrent calls). */
  const layers = new Map<string, { image: ModalImageSpec; built: Promise<void> }>();

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
     * sandbox and uploads the runner into it. When a sandbox of that name
     * already runs (left by a server process that stopped without
     * terminating it), takes it over instead: its files stay, the commands
     * still running in it are killed. Throws `SANDBOX_FAILED` before any
     * call to Modal for a `spec.network` that allows anything
     * (`MODAL_EGRESS_REFUSAL`) and for a `spec.layer` not prepared by this
     * provider.
     */
    async create(spec: SandboxSpec): Promise<Sandbox> {
      const blockNetwork = egressOf(spec);
      const layer = spec.layer === undefined ? undefined : layers.get(spec.layer);
      if (spec.layer !== undefined && !layer) {
        throw new RuntimeError(
          "SANDBOX_FAILED",
          `Layer ${spec.layer} was not prepared by this Modal sandbox provider (call prepareLayer first)`,
        );
      }
      const seam = connect();
      const runner = await runnerBundle();
      if (layer) await layer.built;
      const image = layer?.image ?? (await baseImage());
      const env = { ...spec.env, ...(layer ? LAYER_ENV : {}) };
      // Counted from before the request, so the lifetime never ends later than said.
      const lifetimeEnd = Date.now() + options.timeoutMs;
      const request = sandboxRequest(options, spec.name, env, image, blockNetwork, lifetimeEnd);
      let started: StartedSandbox;
      try {
        started = await createOrTakeOver(seam, request, lifetimeEnd);
      } catch (error) {
        throw modalFailure(`create sandbox "${request.params.name}"`, error);
      }
      const { handle, expiresAt } = started;
      try {
        if (runner) await installRunner(handle, runner);
      } catch (error) {
        await handle.terminate().catch(() => undefined);
        throw error;
      }
      return modalSandbox(handle, { name: spec.name, env, expiresAt }, options);
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

    /**
     * Builds the layer as image layers on top of the sandbox image (see
     * `layerImageSpec`); Modal caches the image, so a layer built once, by
     * any server process, is not built again. The build runs on Modal's
     * image builder, with its egress (`spec.network` is not applied to
     * it), its own time limit (`spec.timeoutMs` is not applied) and its own
     * log (`spec.onOutput` is not called). Throws `DEPENDENCIES_FAILED` with
     * Modal's message when the build fails.
     */
    async prepareLayer(spec: SandboxLayerSpec): Promise<void> {
      const known = layers.get(spec.key);
      if (known) return known.built;
      const seam = connect();
      const image = layerImageSpec(await baseImage(), spec);
      const again = layers.get(spec.key);
      if (again) return again.built;
      const built = seam.buildImage(options.appName, image).catch((error: unknown) => {
        layers.delete(spec.key);
        if (RuntimeError.is(error)) throw error;
        throw new RuntimeError(
          "DEPENDENCIES_FAILED",
          `Modal could not build layer ${spec.key}: ${errorMessage(error)}`,
          { cause: error },
        );
      });
      layers.set(spec.key, { image, built });
      return built;
    },
  };
}

/**
 * What Modal can do of `spec.network`: nothing to honour (undefined), or no
 * egress at all (true). Throws `SANDBOX_FAILED` for any policy that allows
 * an endpoint or carries a secret.
 */
function egressOf(spec: SandboxSpec): true | undefined {
  if (!spec.network) return undefined;
  if (spec.network.allow.length > 0 || (spec.network.secrets?.length ?? 0) > 0) {
    throw new RuntimeError("SANDBOX_FAILED", MODAL_EGRESS_REFUSAL);
  }
  return true;
}

/** A sandbox `create` started or took over, and when Modal will stop it (ms since the epoch). */
interface StartedSandbox {
  readonly handle: ModalSandboxHandle;
  readonly expiresAt: number;
}

/**
 * Creates the sandbox, or takes over the one of the same name still
 * running, reading when its lifetime ends from its `EXPIRES_AT_TAG` (now,
 * when it has none: the runtime then hands it over at the first chance).
 * When that one stops between the refusal and the lookup, creates it again.
 */
async function createOrTakeOver(
  seam: ModalClientSeam,
  request: ModalSandboxRequest,
  expiresAt: number,
): Promise<StartedSandbox> {
  try {
    return { handle: await seam.createSandbox(request), expiresAt };
  } catch (error) {
    if (!isModalAlreadyExists(error)) throw error;
  }
  const running = await seam.findSandbox(request.appName, request.params.name ?? "");
  if (!running) return { handle: await seam.createSandbox(request), expiresAt };
  const operation = "stop the commands left running";
  const stopped = await runCommand(running, operation, stopCommandsCommand());
  if (stopped.code !== 0) throw commandFailure(operation, stopped);
  const recorded = Number((await running.tags())[EXPIRES_AT_TAG]);
  return {
    handle: running,
    expiresAt: Number.isSafeInteger(recorded) && recorded > 0 ? recorded : Date.now(),
  };
}

/** Uploads the runner bundle as `SANDBOX_RUNNER_DIR/runner.mjs`, read-only, owned by root. */
async function installRunner(handle: ModalSandboxHandle, runner: RunnerBundle): Promise<void> {
  const operation = "upload the runner";
  const result = await runCommand(
    handle,
    operation,
    installRunnerCommand(SANDBOX_RUNNER_DIR, "runner.mjs"),
    runner.code,
  );
  if (result.code !== 0) throw commandFailure(operation, result);
}

/** The complete Modal request for one sandbox: what the tests check. */
function sandboxRequest(
  options: ResolvedModalSandboxOptions,
  name: string,
  env: Readonly<Record<string, string>>,
  image: ModalImageSpec,
  blockNetwork: true | undefined,
  expiresAt: number,
): ModalSandboxRequest {
  const { network } = options;
  return {
    appName: options.appName,
    image,
    secretNames: options.secrets,
    params: {
      name: modalSandboxName(name),
      cpu: options.cpu,
      memoryMiB: options.memoryMiB,
      memoryLimitMiB: options.memoryMiB,
      timeoutMs: options.timeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      workdir: options.workspaceDir,
      env: { ...env },
      tags: { [EXPIRES_AT_TAG]: String(expiresAt) },
      ...(options.region ? { regions: [options.region] } : {}),
      ...(blockNetwork || network.blockAll ? { blockNetwork: true } : {}),
      ...(!blockNetwork && network.allowCidrs ? { outboundCidrAllowlist: [...network.allowCidrs] } : {}),
      ...(!blockNetwork && network.allowDomains
        ? { outboundDomainAllowlist: [...network.allowDomains] }
        : {}),
    },
  };
}
