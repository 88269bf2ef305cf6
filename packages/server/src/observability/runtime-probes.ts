import type { Architecture } from "@agent-runtime/protocol";

/**
 * A timed step of a session's work, as the core reports it: `sandbox.create`
 * (the provider's `create`), `workspace.restore` (the profile, stored
 * workspace and transcript written into the sandbox), `agent.start` (the
 * runner and agent process started), `sync` (one write of the session to
 * persistence). Times are `Date.now()` milliseconds.
 */
export interface ProbePhase {
  readonly sessionId: string;
  readonly name: "sandbox.create" | "workspace.restore" | "agent.start" | "sync";
  readonly startedAt: number;
  readonly endedAt: number;
  readonly ok: boolean;
}

/**
 * What observers (metrics, traces) learn from the core beyond the session
 * events (`SessionManager.subscribeAll`). Every method is optional; they are
 * called synchronously, in the core's order, and must not throw.
 */
export interface RuntimeProbeListener {
  /** A session was loaded into this process (created or read back). */
  sessionOpened?(session: {
    readonly sessionId: string;
    readonly architecture: Architecture;
    readonly tenantId: string | undefined;
  }): void;
  /** A loaded session ended in this process (unloaded, destroyed, shut down); its events have all been emitted. */
  sessionClosed?(sessionId: string): void;
  /** A message was accepted for a turn: `queued` when it waits behind a running one. Called before its turn starts. */
  messageAccepted?(message: {
    readonly sessionId: string;
    readonly turnId: string;
    readonly queued: boolean;
    readonly at: number;
  }): void;
  phase?(phase: ProbePhase): void;
}

/**
 * The core's observation points, shared by every session of a runtime. With
 * no listener, a probe costs one empty iteration. A listener that throws is
 * isolated: the core never fails because of an observer.
 */
export class RuntimeProbes {
  private readonly listeners = new Set<RuntimeProbeListener>();

  /** Adds `listener`; returns its removal. */
  add(listener: RuntimeProbeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  sessionOpened(session: Parameters<NonNullable<RuntimeProbeListener["sessionOpened"]>>[0]): void {
    for (const listener of this.listeners) guarded(() => listener.sessionOpened?.(session));
  }

  sessionClosed(sessionId: string): void {
    for (const listener of this.listeners) guarded(() => listener.sessionClosed?.(sessionId));
  }

  messageAccepted(message: Parameters<NonNullable<RuntimeProbeListener["messageAccepted"]>>[0]): void {
    for (const listener of this.listeners) guarded(() => listener.messageAccepted?.(message));
  }

  phase(phase: ProbePhase): void {
    for (const listener of this.listeners) guarded(() => listener.phase?.(phase));
  }

  /**
   * Runs `work` as the phase `name` of `sessionId`, reporting its times and
   * outcome; resolves or rejects as `work` does.
   */
  async timed<T>(sessionId: string, name: ProbePhase["name"], work: () => Promise<T>): Promise<T> {
    if (this.listeners.size === 0) return work();
    const startedAt = Date.now();
    try {
      const result = await work();
      this.phase({ sessionId, name, startedAt, endedAt: Date.now(), ok: true });
      return result;
    } catch (error) {
      this.phase({ sessionId, name, startedAt, endedAt: Date.now(), ok: false });
      throw error;
    }
  }
}

function guarded(call: () => void): void {
  try {
    call();
  } catch {
    // An observer's failure is its own; the core goes on.
  }
}
