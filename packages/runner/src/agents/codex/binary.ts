import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The `codex-acp` executable (Codex with its ACP adapter, one Rust binary).
 * `@zed-industries/codex-acp` ships it in a per-platform optional dependency
 * (`@zed-industries/codex-acp-<os>-<arch>`, at `bin/codex-acp`); that
 * package's binary when it is installed, else `codex-acp` on the PATH.
 * Never throws.
 */
export function resolveCodexAcpBinary(): string {
  const require = createRequire(import.meta.url);
  const name = process.platform === "win32" ? "codex-acp.exe" : "codex-acp";
  const resolveFrom = (from: NodeJS.Require, id: string): string | undefined => {
    try {
      return dirname(from.resolve(`${id}/package.json`));
    } catch {
      return undefined;
    }
  };
  const platformPackage = `@zed-industries/codex-acp-${process.platform}-${process.arch}`;
  const wrapper = resolveFrom(require, "@zed-industries/codex-acp");
  const candidates = [
    resolveFrom(require, platformPackage),
    wrapper ? resolveFrom(createRequire(join(wrapper, "package.json")), platformPackage) : undefined,
  ];
  for (const dir of candidates) {
    const binary = dir && join(dir, "bin", name);
    if (binary && existsSync(binary)) return binary;
  }
  return "codex-acp";
}
