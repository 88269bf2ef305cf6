import type { RunnableMcpServer } from "@agent-runtime/protocol";
import type { McpServer } from "@agentclientprotocol/sdk";

/** Which remote MCP transports the agent takes (its `mcpCapabilities`); stdio it always takes. */
export interface AcpMcpCapabilities {
  readonly http?: boolean;
  readonly sse?: boolean;
}

/**
 * The profile's MCP servers in ACP's shape (`session/new`'s `mcpServers`).
 * A remote server over a transport the agent does not take is left out and
 * named in `skipped`, so the host can say so.
 */
export function acpMcpServers(
  servers: Readonly<Record<string, RunnableMcpServer>>,
  capabilities: AcpMcpCapabilities | null | undefined,
): { servers: McpServer[]; skipped: string[] } {
  const result: McpServer[] = [];
  const skipped: string[] = [];
  for (const [name, server] of Object.entries(servers)) {
    if (server.type === "stdio") {
      result.push({
        name,
        command: server.command,
        args: server.args,
        env: Object.entries(server.env).map(([key, value]) => ({ name: key, value })),
      });
    } else if (capabilities?.[server.type]) {
      result.push({
        type: server.type,
        name,
        url: server.url,
        headers: Object.entries(server.headers).map(([key, value]) => ({ name: key, value })),
      });
    } else {
      skipped.push(name);
    }
  }
  return { servers: result, skipped };
}
