import type { AgentProfile, RunnableMcpServer } from "@agent-runtime/protocol";
import { bundledServerCommand } from "../dependencies/dependency-layer.js";

/**
 * The profile's MCP servers as an agent is given them: a `bundled` server
 * becomes the `stdio` command that starts its installed project in the
 * sandbox's layer; the others are as they are.
 */
export function runnableMcpServers(profile: AgentProfile): Record<string, RunnableMcpServer> {
  return Object.fromEntries(
    Object.entries(profile.mcpServers).map(([name, server]): [string, RunnableMcpServer] => [
      name,
      server.type === "bundled" ? { type: "stdio", ...bundledServerCommand(name, server) } : server,
    ]),
  );
}
