import type {
  PermissionRequest,
  PermissionResolution,
  RunnerCommand,
  RunnerOutput,
  SessionEventInput,
} from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";

export interface PermissionBrokerOptions {
  /** How long a request waits for an answer before it is denied. */
  readonly timeoutMs: number;
  /** Sends a command to the agent's runner (false when none runs). */
  send(command: RunnerCommand): boolean;
  emit(event: SessionEventInput): void;
  /** The set of open requests changed (it is part of the stored session). */
  changed(): void;
}

export interface PermissionAnswer {
  readonly decision: "allow" | "deny";
  /** With `allow`: allow later calls of the same tool in this session without asking. */
  readonly always?: boolean;
  readonly message?: string;
}

/**
 * The tool-permission requests of one session: opened by the agent, answered
 * by a person, expired after `timeoutMs`, or cancelled when their turn ends.
 * Every request is resolved exactly once, and the agent hears every
 * resolution.
 */
export class PermissionBroker {
  private readonly open = new Map<string, { request: PermissionRequest; timer: NodeJS.Timeout }>();
  /** Tools a person allowed "always" in this session. */
  private readonly alwaysAllowed = new Set<string>();

  constructor(private readonly options: PermissionBrokerOptions) {}

  /** Requests that were open when the session was last stored: no agent waits for them any more. */
  expireStored(requests: readonly PermissionRequest[]): void {
    for (const { requestId } of requests) {
      this.options.emit({
        type: "session:permission:resolved",
        requestId,
        decision: "deny",
        reason: "expired",
      });
    }
  }

  /** The open requests, oldest first. */
  pending(): PermissionRequest[] {
    return [...this.open.values()].map((entry) => entry.request);
  }

  /** The agent asks; a tool allowed "always" is allowed at once without an event. */
  request(line: Extract<RunnerOutput, { type: "permission_request" }>, now = new Date()): void {
    if (this.alwaysAllowed.has(line.toolName)) {
      this.options.send({ type: "permission_response", requestId: line.requestId, decision: "allow" });
      return;
    }
    const request: PermissionRequest = {
      requestId: line.requestId,
      toolName: line.toolName,
      input: line.input,
      ...(line.toolUseId ? { toolUseId: line.toolUseId } : {}),
      ...(line.title ? { title: line.title } : {}),
      requestedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.options.timeoutMs).toISOString(),
    };
    const timer = setTimeout(
      () =>
        this.resolve(request.requestId, "deny", "expired", "Nobody answered the permission request in time"),
      this.options.timeoutMs,
    );
    timer.unref();
    this.open.set(request.requestId, { request, timer });
    this.options.changed();
    this.options.emit({ type: "session:permission:requested", request });
  }

  /** A person answers. Throws `PERMISSION_REQUEST_NOT_FOUND` for unknown, answered or expired requests. */
  answer(requestId: string, answer: PermissionAnswer): { requestId: string; decision: "allow" | "deny" } {
    const entry = this.open.get(requestId);
    if (!entry) {
      throw new RuntimeError("PERMISSION_REQUEST_NOT_FOUND", `Permission request ${requestId} is not open`);
    }
    if (answer.decision === "allow" && answer.always) this.alwaysAllowed.add(entry.request.toolName);
    this.resolve(requestId, answer.decision, "answered", answer.message);
    return { requestId, decision: answer.decision };
  }

  /** Denies every open request (its turn or its agent is gone). */
  cancelAll(): void {
    for (const requestId of [...this.open.keys()]) {
      this.resolve(requestId, "deny", "cancelled", "The turn ended before the request was answered");
    }
  }

  private resolve(
    requestId: string,
    decision: "allow" | "deny",
    reason: PermissionResolution,
    message?: string,
  ): void {
    const entry = this.open.get(requestId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.open.delete(requestId);
    this.options.changed();
    this.options.send({
      type: "permission_response",
      requestId,
      decision,
      ...(message === undefined ? {} : { message }),
    });
    this.options.emit({ type: "session:permission:resolved", requestId, decision, reason });
  }
}
