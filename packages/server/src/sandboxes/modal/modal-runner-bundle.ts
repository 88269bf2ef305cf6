import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { z } from "zod";
import { errorMessage, RuntimeError } from "../../errors.js";

/** A package name as npm takes it (scoped or not), and an exact version. */
const packageName = z.string().regex(/^(@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/);
const exactVersion = z.string().regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);

/** `runner-bundle.json`, as `packages/runner/scripts/bundle.mjs` writes it. */
const manifestSchema = z.object({
  entry: z.string().regex(/^[A-Za-z0-9._-]+\.m?js$/),
  packages: z.record(packageName, exactVersion),
  /** The model key proxy (`key-proxy-main.ts`, bundled). */
  keyProxy: z
    .string()
    .regex(/^[A-Za-z0-9._-]+\.m?js$/)
    .optional(),
});

/** The self-contained runner and what must be installed beside it. */
export interface RunnerBundle {
  /** The bundle's bytes (`runner.mjs`). */
  readonly code: Uint8Array;
  /** Packages installed beside the bundle, name to exact version. */
  readonly packages: Readonly<Record<string, string>>;
  /** The model key proxy's bytes (`key-proxy.mjs`); undefined when the bundle has none. */
  readonly keyProxy?: Uint8Array;
}

/**
 * Reads the runner bundle from `folder`, or from the installed
 * `@agent-runtime/runner` when undefined. Throws `SANDBOX_FAILED` saying how
 * to build it when it is missing or its manifest is invalid.
 */
export async function loadRunnerBundle(folder?: string): Promise<RunnerBundle> {
  let manifestPath: string;
  try {
    manifestPath =
      folder === undefined
        ? createRequire(import.meta.url).resolve("@agent-runtime/runner/bundle.json")
        : join(folder, "runner-bundle.json");
  } catch (error) {
    throw missing("@agent-runtime/runner/bundle.json", error);
  }
  let manifest: z.infer<typeof manifestSchema>;
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(await readFile(manifestPath, "utf8")));
    if (!parsed.success) {
      throw new RuntimeError(
        "SANDBOX_FAILED",
        `Invalid runner bundle manifest ${manifestPath}: ${parsed.error.message}`,
      );
    }
    manifest = parsed.data;
  } catch (error) {
    if (RuntimeError.is(error)) throw error;
    throw missing(manifestPath, error);
  }
  const entry = join(dirname(manifestPath), manifest.entry);
  const keyProxy =
    manifest.keyProxy === undefined ? undefined : join(dirname(manifestPath), manifest.keyProxy);
  try {
    return {
      code: await readFile(entry),
      packages: manifest.packages,
      ...(keyProxy === undefined ? {} : { keyProxy: await readFile(keyProxy) }),
    };
  } catch (error) {
    throw missing(keyProxy ?? entry, error);
  }
}

function missing(path: string, error: unknown): RuntimeError {
  return new RuntimeError(
    "SANDBOX_FAILED",
    `The runner bundle is missing (${path}: ${errorMessage(error)}); build it with \`npm run build\` (or \`npm run bundle -w @agent-runtime/runner\`)`,
  );
}
