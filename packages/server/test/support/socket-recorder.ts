import type { JoinAck, SessionEvent } from "@agent-runtime/protocol";
import { io, type Socket } from "socket.io-client";

/** A real socket.io client that joins one session and records every event it receives, in order. */
export class SocketRecorder {
  readonly events: SessionEvent[] = [];
  readonly snapshots: unknown[] = [];
  readonly socket: Socket;
  private waiters: Array<() => void> = [];

  constructor(url: string, options: { token?: string } = {}) {
    this.socket = io(url, {
      transports: ["websocket"],
      reconnection: false,
      ...(options.token ? { auth: { token: options.token } } : {}),
    });
    this.socket.onAny((name: string, payload: unknown) => {
      if (name === "session:snapshot") this.snapshots.push(payload);
      else this.events.push(payload as SessionEvent);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  join(sessionId: string, afterSeq?: number): Promise<JoinAck> {
    return this.socket.timeout(10_000).emitWithAck("session:join", { sessionId, afterSeq });
  }

  /** Resolves with the first recorded event matching `predicate` (already recorded or future). */
  async waitFor(predicate: (event: SessionEvent) => boolean, timeoutMs = 90_000): Promise<SessionEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events.map((e) => e.type).join(", ");
        throw new Error(`Timed out waiting for an event; saw: ${seen}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the n-th `session:turn:completed` (1-based). */
  async waitForTurns(count: number, timeoutMs = 90_000): Promise<void> {
    await this.waitFor(
      () => this.events.filter((e) => e.type === "session:turn:completed").length >= count,
      timeoutMs,
    );
  }

  close(): void {
    this.socket.close();
  }
}
