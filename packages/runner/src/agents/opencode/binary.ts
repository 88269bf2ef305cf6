import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The OpenCode executable. `opencode-ai` ships it in a per-platform optional
 * dependency (`opencode-<os>-<arch>[-baseline][-musl]`); its postinstall
 * copies the variant fitting the CPU and libc over the placeholder
 * `opencode-ai/bin/opencode.exe`. That copy is used when it exists (npm may
 * skip install scripts, leaving the small placeholder), else the platform
 * package, else `opencode` on the PATH. Never throws.
 */
export function resolveOpencodeBinary(): string {
  const require = createRequire(import.meta.url);
  let wrapperDir: string | undefined;
  try {
    wrapperDir = dirname(require.resolve("opencode-ai/package.json"));
  } catch {
    return "opencode";
  }
  const copied = join(wrapperDir, "bin", "opencode.exe");
  if (isBinary(copied)) return copied;
  const fromWrapper = createRequire(join(wrapperDir, "package.json"));
  const os = process.platform === "win32" ? "windows" : process.platform;
  const name = process.platform === "win32" ? "opencode.exe" : "opencode";
  for (const variant of ["", "-baseline", "-musl", "-baseline-musl"]) {
    try {
      const dir = dirname(fromWrapper.resolve(`opencode-${os}-${process.arch}${variant}/package.json`));
      const binary = join(dir, "bin", name);
      if (existsSync(binary)) return binary;
    } catch {
      // not installed for this platform variant
    }
  }
  return "opencode";
}

/** The placeholder is a short script; a real binary is tens of megabytes. */
function isBinary(path: string): boolean {
  try {
    return statSync(path).size > 1_000_000;
  } catch {
    return false;
  }
}
