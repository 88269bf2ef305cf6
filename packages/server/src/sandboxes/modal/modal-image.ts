import type { ModalImageSpec } from "./modal-client.js";
import { type ResolvedModalSandboxOptions, SANDBOX_RUNNER_DIR } from "./modal-sandbox-options.js";

/** Name of the non-root user the image creates for the agent. */
export const AGENT_USER = "agent";

/**
 * The image every sandbox starts from: `image.base`, then a non-root `agent`
 * user with the configured uid/gid and home (replacing whatever user the base
 * had at that uid, e.g. `node` in the official Node images), the workspace
 * folder owned by it, then one layer per package the runner bundle needs
 * beside it (`runnerPackages`, name to exact version: the agents' binaries
 * and native add-ons), installed from the npm registry into
 * `SANDBOX_RUNNER_DIR`, and last the caller's own commands. Deterministic, so
 * Modal builds each layer once and caches it; a changed version rebuilds
 * only from its layer on.
 *
 * ripgrep (`rg`), which OpenCode's glob, grep and skill tools run, is
 * installed from the distribution's packages unless the base image has it.
 *
 * Folders holding read-only files become root-owned (see
 * `writeFilesCommand`), which git would take for a "dubious ownership"
 * repository: the system git config trusts every folder.
 */
export function sandboxImageSpec(
  options: ResolvedModalSandboxOptions,
  runnerPackages: Readonly<Record<string, string>> | null,
): ModalImageSpec {
  const { uid, gid, homeDir, workspaceDir, image } = options;
  const commands = [
    `RUN user="$(getent passwd ${uid} | cut -d: -f1)"; if [ -n "$user" ]; then userdel "$user"; fi; ` +
      `group="$(getent group ${gid} | cut -d: -f1)"; if [ -n "$group" ]; then groupdel "$group"; fi; ` +
      `groupadd --gid ${gid} ${AGENT_USER} && ` +
      `useradd --uid ${uid} --gid ${gid} --home-dir ${shellQuote(homeDir)} --create-home --shell /bin/sh ${AGENT_USER}`,
    `RUN mkdir -p ${shellQuote(workspaceDir)} ${shellQuote(homeDir)} && ` +
      `chown ${uid}:${gid} ${shellQuote(workspaceDir)} ${shellQuote(homeDir)}`,
    `RUN printf '[safe]\\n\\tdirectory = *\\n' >> /etc/gitconfig`,
    RIPGREP_LAYER,
  ];
  if (runnerPackages !== null) {
    commands.push(
      `RUN mkdir -p ${SANDBOX_RUNNER_DIR} && printf '{"private":true}\\n' > ${SANDBOX_RUNNER_DIR}/package.json`,
    );
    for (const name of Object.keys(runnerPackages).sort()) {
      commands.push(
        `RUN cd ${SANDBOX_RUNNER_DIR} && npm install --omit=dev --no-audit --no-fund --save-exact ` +
          `${shellQuote(`${name}@${runnerPackages[name]}`)} && npm cache clean --force`,
      );
    }
  }
  return { base: image.base, dockerfileCommands: [...commands, ...image.dockerfileCommands] };
}

/** Installs ripgrep with apt (Debian- and Ubuntu-based images) unless `rg` is on the PATH already. */
const RIPGREP_LAYER =
  "RUN command -v rg >/dev/null 2>&1 || (apt-get update && " +
  "apt-get install -y --no-install-recommends ripgrep && rm -rf /var/lib/apt/lists/*)";

/** Quotes one word for `sh`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
