import { randomUUID } from "node:crypto";
import { type PermissionPolicy, toolCovers } from "@agent-runtime/protocol";
import type { AgentHostEvents } from "./agent-host.js";

export type GateDecision =
  | { behavior: "allow"; updatedInput: Record<string, unknown> }
  | { behavior: "deny"; message: string };

interface Pending {
  readonly input: Record<string, unknown>;
  readonly resolve: (decision: GateDecision) => void;
}

/**
 * Turns an agent's permission callback into `permission_request` lines and
 * waits for the matching answers. Fails closed: anything but an explicit
 * `allow` denies, and `denyAll` (turn end, interrupt, abort) denies every
 * open request.
 */
export class PermissionGate {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly policy: PermissionPolicy,
    private readonly events: Pick<AgentHostEvents, "permissionRequest">,
  ) {}

  /** Whether a call of `toolName` must be asked for under the policy (its tools in either agent's spelling). */
  needsAnswer(toolName: string): boolean {
    if (this.policy.mode !== "ask") return false;
    const { tools } = this.policy;
    return tools === undefined || tools.some((listed) => toolCovers(listed, toolName));
  }

  ask(
    toolName: string,
    input: Record<string, unknown>,
    options: { signal?: AbortSignal; toolUseID?: string; title?: string },
  ): Promise<GateDecision> {
    if (!this.needsAnswer(toolName)) return Promise.resolve({ behavior: "allow", updatedInput: input });
    const requestId = randomUUID();
    return new Promise<GateDecision>((resolve) => {
      this.pending.set(requestId, { input, resolve });
      options.signal?.addEventListener(
        "abort",
        () => this.respond(requestId, "deny", "The tool call was aborted"),
        {
          once: true,
        },
      );
      this.events.permissionRequest({
        type: "permission_request",
        requestId,
        toolName,
        input,
        ...(options.toolUseID ? { toolUseId: options.toolUseID } : {}),
        ...(options.title ? { title: options.title } : {}),
      });
    });
  }

  respond(requestId: string, decision: "allow" | "deny", message?: string): void {
    const entry = this.pending.get(requestId);
    if (!entry) return;
    this.pending.delete(requestId);
    entry.resolve(
      decision === "allow"
        ? { behavior: "allow", updatedInput: entry.input }
        : { behavior: "deny", message: message ?? "The user denied this tool call" },
    );
  }

  denyAll(message: string): void {
    for (const requestId of [...this.pending.keys()]) this.respond(requestId, "deny", message);
  }
}
