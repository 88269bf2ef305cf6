import type { ReadableStream, WritableStream } from "node:stream/web";
import type { App, Image, Sandbox, SandboxCreateParams, SandboxExecParams } from "modal";

/*
 * The few calls of Modal's SDK the provider uses, behind an interface of our
 * own: the provider builds every request (names, image, resources, argv).
 * Tests check them against a fake of this seam, and run `createModalClient`
 * (the real SDK) against a fake of Modal's gRPC API, since Modal's cloud
 * cannot be reached offline. `createModalClient` stays a pass-through: no
 * decisions live here.
 */

/** What the sandbox image is built from: a registry image plus Dockerfile commands, built once by Modal and cached. */
export interface ModalImageSpec {
  readonly base: string;
  readonly dockerfileCommands: readonly string[];
}

export interface ModalSandboxRequest {
  /** The Modal App the sandbox belongs to; created when missing. */
  readonly appName: string;
  readonly image: ModalImageSpec;
  /** Names of Modal Secrets injected as environment variables. */
  readonly secretNames: readonly string[];
  /** Passed to `client.sandboxes.create` as they are. */
  readonly params: Omit<SandboxCreateParams, "secrets">;
}

/** Binary-mode exec parameters, passed to `sandbox.exec` as they are. */
export type ModalExecParams = Omit<SandboxExecParams, "mode" | "secrets">;

/** A process started with `exec`. Streams are raw bytes. */
export interface ModalProcessHandle {
  readonly stdin: WritableStream<Uint8Array>;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  /** Resolves with the exit code (Modal reports a signal `n` as `128 + n`). */
  wait(): Promise<number>;
}

export interface ModalSandboxHandle {
  readonly sandboxId: string;
  /** Rejects when the process cannot be started. */
  exec(argv: readonly string[], params: ModalExecParams): Promise<ModalProcessHandle>;
  /** Stops the sandbox; rejects with the SDK's error (e.g. `NotFoundError`) when that fails. */
  terminate(): Promise<void>;
  /** Long-polls until the sandbox has stopped, for whatever reason. May reject on transport errors. */
  wait(): Promise<number>;
  /** The sandbox's tags (`params.tags` at create). */
  tags(): Promise<Record<string, string>>;
}

export interface ModalClientSeam {
  /** Looks up (or creates) the App: one cheap authenticated call. */
  ensureApp(appName: string): Promise<void>;
  /** Builds the image in the App unless Modal has it cached; rejects with the build's error. */
  buildImage(appName: string, image: ModalImageSpec): Promise<void>;
  /** Builds the image if needed, then creates and schedules the sandbox. */
  createSandbox(request: ModalSandboxRequest): Promise<ModalSandboxHandle>;
  /** The running sandbox of that name in that App, or null when there is none. */
  findSandbox(appName: string, name: string): Promise<ModalSandboxHandle | null>;
  /** The App's running sandboxes that have every one of `tags`, newest first, page by page. */
  listSandboxes(appName: string, tags: Readonly<Record<string, string>>): AsyncIterable<ModalSandboxHandle>;
}

export interface ModalCredentials {
  readonly tokenId: string;
  readonly tokenSecret: string;
  /** Modal environment; the SDK's default when undefined. */
  readonly environment?: string;
  /** Modal's sandbox backend; the SDK's choice when undefined (see `ModalSandboxOptions.sandboxBackend`). */
  readonly sandboxBackend?: "v1" | "v2";
}

/** Builds the seam for a set of credentials; called lazily, on the first operation that needs Modal. */
export type ModalClientFactory = (credentials: ModalCredentials) => ModalClientSeam;

/**
 * The real seam over the `modal` SDK. The SDK is imported on first use: it
 * reads `~/.modal.toml` when loaded, and servers that never use Modal should
 * not pay for loading gRPC.
 */
export const createModalClient: ModalClientFactory = (credentials) => {
  const { environment, sandboxBackend } = credentials;
  let sdk: Promise<{ modal: typeof import("modal"); client: import("modal").ModalClient }> | undefined;
  const connect = () => {
    sdk ??= import("modal").then((modal) => {
      const client = new modal.ModalClient({
        tokenId: credentials.tokenId,
        tokenSecret: credentials.tokenSecret,
        ...(environment === undefined ? {} : { environment }),
      });
      // The SDK reads the backend from its environment and ~/.modal.toml into the client's profile, and
      // consults the profile at each create, lookup and listing: setting it here chooses it for this client only.
      if (sandboxBackend !== undefined) client.profile.sandboxV2 = sandboxBackend === "v2";
      return { modal, client };
    });
    return sdk;
  };

  const apps = new Map<string, Promise<App>>();
  const app = (name: string): Promise<App> => {
    let found = apps.get(name);
    if (!found) {
      found = connect().then(({ client }) =>
        client.apps.fromName(name, { createIfMissing: true, ...(environment ? { environment } : {}) }),
      );
      found.catch(() => apps.delete(name));
      apps.set(name, found);
    }
    return found;
  };

  const images = new Map<string, Image>();
  const image = (client: import("modal").ModalClient, spec: ModalImageSpec): Image => {
    const key = JSON.stringify(spec);
    let found = images.get(key);
    if (!found) {
      // One Modal layer per command, each cached on its own: a changed command rebuilds from its layer on.
      found = spec.dockerfileCommands.reduce(
        (image, command) => image.dockerfileCommands([command]),
        client.images.fromRegistry(spec.base),
      );
      images.set(key, found);
    }
    return found;
  };

  return {
    async ensureApp(appName) {
      await app(appName);
    },
    async buildImage(appName, spec) {
      const { client } = await connect();
      await image(client, spec).build(await app(appName));
    },
    async createSandbox(request) {
      const { client } = await connect();
      const [found, secrets] = await Promise.all([
        app(request.appName),
        Promise.all(
          request.secretNames.map((name) =>
            client.secrets.fromName(name, environment ? { environment } : undefined),
          ),
        ),
      ]);
      const sandbox = await client.sandboxes.create(found, image(client, request.image), {
        ...request.params,
        secrets,
      });
      return wrapSandbox(sandbox);
    },
    async findSandbox(appName, name) {
      const { modal, client } = await connect();
      try {
        return wrapSandbox(
          await client.sandboxes.fromName(appName, name, environment ? { environment } : undefined),
        );
      } catch (error) {
        if (error instanceof modal.NotFoundError) return null;
        throw error;
      }
    },
    async *listSandboxes(appName, tags) {
      const { client } = await connect();
      const { appId } = await app(appName);
      for await (const sandbox of client.sandboxes.list({
        appId,
        tags: { ...tags },
        ...(environment ? { environment } : {}),
      })) {
        yield wrapSandbox(sandbox);
      }
    },
  };
};

function wrapSandbox(sandbox: Sandbox): ModalSandboxHandle {
  return {
    sandboxId: sandbox.sandboxId,
    async exec(argv, params) {
      const process = await sandbox.exec([...argv], { ...params, mode: "binary" });
      // The SDK's streams are Node's web streams, typed with the DOM's names.
      return {
        stdin: process.stdin as unknown as WritableStream<Uint8Array>,
        stdout: process.stdout as unknown as ReadableStream<Uint8Array>,
        stderr: process.stderr as unknown as ReadableStream<Uint8Array>,
        wait: () => process.wait(),
      };
    },
    terminate: () => sandbox.terminate(),
    wait: () => sandbox.wait(),
    tags: () => sandbox.getTags(),
  };
}
