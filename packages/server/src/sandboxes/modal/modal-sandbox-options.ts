import { z } from "zod";
import type { ModalClientFactory } from "./modal-client.js";

const absolutePath = z
  .string()
  .refine((value) => /^\/[^\0]*[^/]$/.test(value) && !value.split("/").includes(".."), {
    message: "must be an absolute path without '..' or a trailing slash",
  });

/** Modal's rule for object names (Apps, Secrets): at most 64 of `[A-Za-z0-9._-]`. */
const modalObjectName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 of A-Z a-z 0-9 . _ -");

/** Modal takes lifetimes in whole seconds. */
const wholeSeconds = (max: number) =>
  z
    .number()
    .int()
    .min(1000)
    .max(max)
    .refine((value) => value % 1000 === 0, "must be a whole number of seconds (a multiple of 1000)");

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where the image installs the runner's packages and `create` uploads the runner bundle. */
export const SANDBOX_RUNNER_DIR = "/opt/agent-runtime/runner";

export const modalSandboxOptionsSchema = z
  .object({
    /** The Modal App that holds the sandboxes; created on first use. @default "agent-runtime" */
    appName: modalObjectName.default("agent-runtime"),
    /** Modal environment. @default the token's default environment */
    environment: z.string().min(1).optional(),
    /**
     * Modal token id. The CLI passes `MODAL_TOKEN_ID`; the provider never reads
     * the environment itself. `check()` and `create()` fail without it.
     */
    tokenId: z.string().min(1).optional(),
    /** Modal token secret (`MODAL_TOKEN_SECRET`). */
    tokenSecret: z.string().min(1).optional(),
    /** The sandbox image. Modal builds it on first use and caches it. */
    image: z
      .object({
        /**
         * Registry image with Node >= 20, npm, bash, GNU tar, findutils and
         * util-linux (`setpriv`, `setsid`). @default "node:20-slim"
         */
        base: z.string().min(1).default("node:20-slim"),
        /** Extra Dockerfile commands, run after the runtime's own (agent user, folders, agent packages). @default [] */
        dockerfileCommands: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
    /**
     * Folder on this machine holding the self-contained runner (`runner.mjs`)
     * and its manifest (`runner-bundle.json`), as `npm run build` makes them
     * in `packages/runner/dist/bundle`. The bundle is uploaded into every
     * sandbox at `create`; the image installs the packages the manifest
     * names (the agents' binaries, native add-ons), at its exact versions,
     * beside it. Null when the image brings its own runner (then set
     * `runnerCommand`). @default the bundle of the installed `@agent-runtime/runner`
     */
    runnerBundle: absolutePath.nullable().optional(),
    /**
     * Starts the runner inside the sandbox; the runtime appends the config path.
     * @default ["node", "/opt/agent-runtime/runner/runner.mjs"]
     */
    runnerCommand: z
      .array(z.string().min(1))
      .min(1)
      .default(["node", `${SANDBOX_RUNNER_DIR}/runner.mjs`]),
    /** Physical CPU cores reserved per sandbox (fractions allowed). @default 1 */
    cpu: z.number().positive().max(64).default(1),
    /** Memory per sandbox in MiB, reserved and enforced as the hard limit. @default 2048 */
    memoryMiB: z.number().int().min(128).max(262_144).default(2048),
    /** Maximum lifetime of a sandbox; Modal stops it afterwards. At most 24 h. @default 3600000 (1 h) */
    timeoutMs: wholeSeconds(DAY_MS).default(60 * 60 * 1000),
    /**
     * Modal stops a sandbox idle this long (no running exec): a safety net for
     * sandboxes a crashed server left behind. @default 600000 (10 min)
     */
    idleTimeoutMs: wholeSeconds(DAY_MS).default(10 * 60 * 1000),
    /** Names of Modal Secrets injected as environment variables into every sandbox. @default [] */
    secrets: z.array(modalObjectName).default([]),
    /** Modal region to run in (e.g. "us-east"). @default any */
    region: z.string().min(1).optional(),
    /**
     * Egress policy applied to every sandbox. `blockAll` cuts all networking;
     * the allow-lists admit only the listed CIDRs / domain names (wildcard
     * prefix `*.` allowed). @default {} (egress open)
     */
    network: z
      .object({
        blockAll: z.boolean().default(false),
        allowCidrs: z.array(z.string().min(1)).optional(),
        allowDomains: z.array(z.string().min(1)).optional(),
      })
      .refine((network) => !(network.blockAll && (network.allowCidrs || network.allowDomains)), {
        message: "blockAll cannot be combined with allowCidrs or allowDomains",
      })
      .prefault({}),
    /**
     * Modal's sandbox backend: `v2` (the SDK's default) or `v1` (Modal's
     * original one). The SDK otherwise takes it from `MODAL_SANDBOX_V2` or
     * `sandbox_v2` in `~/.modal.toml`; this option wins over both, for this
     * provider's client only. A server looks up sandboxes by name on its own
     * backend, so servers sharing an App should use the same one.
     * @default the SDK's choice (v2 unless MODAL_SANDBOX_V2 or ~/.modal.toml says otherwise)
     */
    sandboxBackend: z.enum(["v1", "v2"]).optional(),
    /** The agent's working folder. @default "/workspace" */
    workspaceDir: absolutePath.default("/workspace"),
    /** The agent user's home. @default "/home/agent" */
    homeDir: absolutePath.default("/home/agent"),
    /** Uid of every process started with `exec` (Claude Code refuses to bypass permissions as root). @default 1000 */
    uid: z.number().int().min(1).max(65_533).default(1000),
    /** Gid of every process started with `exec`. @default 1000 */
    gid: z.number().int().min(1).max(65_533).default(1000),
    /**
     * Replaces the SDK transport, like the `fetch` option of HTTP clients:
     * tests pass a fake, wrappers may add tracing. @default the `modal` SDK
     */
    createClient: z.custom<ModalClientFactory>((value) => typeof value === "function").optional(),
  })
  .refine(
    (options) =>
      !isSameOrBelow(options.workspaceDir, options.homeDir) &&
      !isSameOrBelow(options.homeDir, options.workspaceDir),
    { message: "workspaceDir and homeDir must not contain each other" },
  );

/** Options of `createModalSandboxProvider`, as the caller writes them. */
export type ModalSandboxOptions = z.input<typeof modalSandboxOptionsSchema>;
/** Options with defaults applied. */
export type ResolvedModalSandboxOptions = z.output<typeof modalSandboxOptionsSchema>;

function isSameOrBelow(parent: string, path: string): boolean {
  return path === parent || path.startsWith(`${parent}/`);
}
