import type { ModalImageSpec } from "./modal-client.js";
import type { ResolvedModalSandboxOptions } from "./modal-sandbox-options.js";

/** Name of the non-root user the image creates for the agent. */
export const AGENT_USER = "agent";

/**
 * The image every sandbox starts from: `image.base`, then a non-root `agent`
 * user with the configured uid/gid and home (replacing whatever user the base
 * had at that uid, e.g. `node` in the official Node images), the workspace
 * folder owned by it, the runner installed globally, and last the caller's
 * own commands. Deterministic, so Modal builds it once and caches it.
 *
 * Folders holding read-only files become root-owned (see
 * `writeFilesCommand`), which git would take for a "dubious ownership"
 * repository: the system git config trusts every folder.
 */
export function sandboxImageSpec(options: ResolvedModalSandboxOptions): ModalImageSpec {
  const { uid, gid, homeDir, workspaceDir, image } = options;
  const commands = [
    `RUN user="$(getent passwd ${uid} | cut -d: -f1)"; if [ -n "$user" ]; then userdel "$user"; fi; ` +
      `group="$(getent group ${gid} | cut -d: -f1)"; if [ -n "$group" ]; then groupdel "$group"; fi; ` +
      `groupadd --gid ${gid} ${AGENT_USER} && ` +
      `useradd --uid ${uid} --gid ${gid} --home-dir ${shellQuote(homeDir)} --create-home --shell /bin/sh ${AGENT_USER}`,
    `RUN mkdir -p ${shellQuote(workspaceDir)} ${shellQuote(homeDir)} && ` +
      `chown ${uid}:${gid} ${shellQuote(workspaceDir)} ${shellQuote(homeDir)}`,
    `RUN printf '[safe]\\n\\tdirectory = *\\n' >> /etc/gitconfig`,
  ];
  if (image.runnerPackage !== null) {
    commands.push(
      `RUN npm install --global --omit=dev ${shellQuote(image.runnerPackage)} && npm cache clean --force`,
    );
  }
  return { base: image.base, dockerfileCommands: [...commands, ...image.dockerfileCommands] };
}

/** Quotes one word for `sh`. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
