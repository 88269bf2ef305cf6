import { acpToolName } from "@agent-runtime/protocol";
import type { RequestPermissionRequest, RequestPermissionResponse } from "@agentclientprotocol/sdk";
import type { PermissionGate } from "../permission-gate.js";

/**
 * Answers an ACP `session/request_permission` through the runtime's
 * permission gate: the tool call's `kind` gives its name in the policy (see
 * `acpToolName`); a call the policy does not ask about is allowed at once.
 * An allow selects the agent's `allow_once` option (else `allow_always`), a
 * deny its `reject_once` option (else `reject_always`, else the request is
 * cancelled). Fails closed: with no turn to answer in, or no fitting option,
 * it is cancelled.
 */
export async function answerAcpPermission(
  gate: PermissionGate,
  request: RequestPermissionRequest,
  context: { readonly inTurn: boolean; readonly signal?: AbortSignal },
): Promise<RequestPermissionResponse> {
  const cancelled: RequestPermissionResponse = { outcome: { outcome: "cancelled" } };
  if (!context.inTurn) return cancelled;
  const option = (...kinds: string[]) =>
    kinds.map((kind) => request.options.find((candidate) => candidate.kind === kind)).find(Boolean);
  const allow = option("allow_once", "allow_always");
  const reject = option("reject_once", "reject_always");
  const { toolCall } = request;
  const rawInput = toolCall.rawInput;
  const input =
    typeof rawInput === "object" && rawInput !== null && !Array.isArray(rawInput)
      ? (rawInput as Record<string, unknown>)
      : {};
  const decision = await gate.ask(acpToolName(toolCall.kind), input, {
    ...(context.signal ? { signal: context.signal } : {}),
    toolUseID: toolCall.toolCallId,
    ...(toolCall.title ? { title: toolCall.title } : {}),
  });
  const chosen = decision.behavior === "allow" ? allow : reject;
  return chosen ? { outcome: { outcome: "selected", optionId: chosen.optionId } } : cancelled;
}
