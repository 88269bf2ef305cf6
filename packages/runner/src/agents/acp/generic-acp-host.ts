import type { RunnerConfig } from "@agent-runtime/protocol";
import type { AgentHost, AgentHostEvents } from "../agent-host.js";
import { createAcpHost } from "./acp-host.js";

/**
 * Hosts the ACP agent the session names (`config.acp`: its command,
 * arguments and environment) with `createAcpHost`. `start` rejects when
 * the configuration names no command.
 */
export function createGenericAcpHost(config: RunnerConfig, events: AgentHostEvents): AgentHost {
  return createAcpHost(config, events, {
    async launch() {
      if (!config.acp) throw new Error("the acp architecture needs an ACP agent command (acp.command)");
      return {
        command: config.acp.command,
        args: config.acp.args,
        ...(config.acp.env ? { env: config.acp.env } : {}),
      };
    },
  });
}
