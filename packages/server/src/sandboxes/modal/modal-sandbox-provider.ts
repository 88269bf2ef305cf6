import { errorMessage, RuntimeError } from "../../errors.js";
import type {
  Sandbox,
  SandboxCapabilities,
  SandboxLayerSpec,
  SandboxProvider,
  SandboxSpec,
  SandboxSweep,
} from "../sandbox-provider.js";
import {
  createModalClient,
  type ModalClientSeam,
  type ModalImageSpec,
  type ModalSandboxHandle,
  type ModalSandboxRequest,
} from "./modal-client.js";
import { type ModalEgressParams, planModalEgress } from "./modal-egress.js";
import {
  isModalAlreadyExists,
  isModalNotFound,
  MISSING_CREDENTIALS_MESSAGE,
  modalFailure,
} from "./modal-errors.js";
import { sandboxImageSpec } from "./modal-image.js";
import { startKeyProxy } from "./modal-key-proxy.js";
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
import { installRunnerCommand, SANDBOX_MARKER, stopCommandsCommand } from "./sandbox-commands.js";

/**
 * The Modal tag holding when a sandbox's lifetime ends (ms since the epoch),
 * for a server process that takes the sandbox over.
 */
const EXPIRES_AT_TAG = "agent-runtime-expires-at";
/** The Modal tag holding the sandbox's `SandboxSpec.name`, for `sweep`. */
const NAME_TAG = "agent-runtime-sandbox";
/** The Modal tag every sandbox of this provider carries, by which `sweep` lists them. */
const OWNER_TAG = { "agent-runtime": "session" } as const;
/** At most this many sandboxes are looked at in one `sweep`. */
const MAX_SWEPT = 1000;

/**
 * Sandboxes on Modal (https://modal.com), one per session, named after
 * `SandboxSpec.name` inside one Modal App. A sandbox's files live only as
 * long as it runs. `create` takes over a sandbox of that name that another
 * server process left running (`attach`), so a restarted server picks its
 * sessions' sandboxes up with their files. Processes run as a non-root uid
 * with `NoNewPrivs`; the system outside workspace and home stays writable by
 * root only, but is not read-only (`readOnlySystem: false`). Egress follows
 * `SandboxSpec.network` when given (see `planModalEgress`: Modal's allow-lists,
 * and the model key added by a proxy inside the sandbox that the agent's
 * uid can neither read nor trace), else `options.network`. The runner
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
     * still running in it are killed. With secrets in `spec.network`,
     * starts the model key proxy in it (`startKeyProxy`). Throws
     * `SANDBOX_FAILED` before any call to Modal for a `spec.network` Modal
     * cannot honour (`planModalEgress`), for secrets without a key proxy in
     * the runner bundle, and for a `spec.layer` not prepared by this
     * provider.
     */
    async create(spec: SandboxSpec): Promise<Sandbox> {
      const egress = planModalEgress(spec.network, options.network);
      const layer = spec.layer === undefined ? undefined : layers.get(spec.layer);
      if (spec.layer !== undefined && !layer) {
        throw new RuntimeError(
          "SANDBOX_FAILED",
          `Layer ${spec.layer} was not prepared by this Modal sandbox provider (call prepareLayer first)`,
        );
      }
      const seam = connect();
      const runner = await runnerBundle();
      if (egress.keyProxy && !runner?.keyProxy) {
        throw new RuntimeError(
          "SANDBOX_FAILED",
          "The Modal sandbox provider keeps the model key out of the sandbox with a key proxy that ships in the runner bundle, " +
            "and this runner bundle has none (runnerBundle: null, or a bundle built before it existed): build it with `npm run build`, " +
            "or start the server with --egress open to give the agent the key",
        );
      }
      if (layer) await layer.built;
      const image = layer?.image ?? (await baseImage());
      const env = { ...spec.env, ...(layer ? LAYER_ENV : {}) };
      // Counted from before the request, so the lifetime never ends later than said.
      const lifetimeEnd = Date.now() + options.timeoutMs;
      const request = sandboxRequest(options, spec.name, env, image, egress.params, lifetimeEnd);
      let started: StartedSandbox;
      try {
        started = await createOrTakeOver(seam, request, lifetimeEnd, options.uid);
      } catch (error) {
        throw modalFailure(`create sandbox "${request.params.name}"`, error);
      }
      const { handle, expiresAt } = started;
      try {
        if (runner) await installRunner(handle, runner);
        if (egress.keyProxy && runner?.keyProxy)
          await startKeyProxy(handle, runner.keyProxy, egress.keyProxy);
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
     * Lists the App's running sandboxes of this provider (by their tags,
     * at most `MAX_SWEPT`), and terminates those whose session `isOrphan`
     * says is gone. A sandbox without its name tag, or whose check or
     * termination fails, is left running and counted as skipped. Throws
     * `SANDBOX_FAILED` when Modal cannot list them.
     */
    async sweep(isOrphan, signal): Promise<SandboxSweep> {
      const seam = connect();
      const stopped: string[] = [];
      let kept = 0;
      let skipped = 0;
      let seen = 0;
      try {
        for await (const handle of seam.listSandboxes(options.appName, OWNER_TAG)) {
          if (signal.aborted || ++seen > MAX_SWEPT) break;
          try {
            const name = (await handle.tags())[NAME_TAG];
            if (!name) {
              skipped++;
            } else if (!(await isOrphan(name))) {
              kept++;
            } else {
              await handle.terminate().catch((error: unknown) => {
                if (!isModalNotFound(error)) throw error;
              });
              stopped.push(name);
            }
          } catch {
            skipped++;
          }
        }
      } catch (error) {
        throw modalFailure(`list the sandboxes of app "${options.appName}"`, error);
      }
      return { stopped, kept, skipped };
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
  agentUid: number,
): Promise<StartedSandbox> {
  try {
    return { handle: await seam.createSandbox(request), expiresAt };
  } catch (error) {
    if (!isModalAlreadyExists(error)) throw error;
  }
  const running = await seam.findSandbox(request.appName, request.params.name ?? "");
  if (!running) return { handle: await seam.createSandbox(request), expiresAt };
  const operation = "stop the commands left running";
  // Without the marker of the sandbox's commands, which it looks for.
  const stopped = await runCommand(
    running,
    operation,
    stopCommandsCommand(running.sandboxId, agentUid),
    undefined,
    {
      env: { [SANDBOX_MARKER]: "" },
    },
  );
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
  egress: ModalEgressParams,
  expiresAt: number,
): ModalSandboxRequest {
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
      tags: { ...OWNER_TAG, [NAME_TAG]: name, [EXPIRES_AT_TAG]: String(expiresAt) },
      ...(options.region ? { regions: [options.region] } : {}),
      ...egress,
    },
  };
}
