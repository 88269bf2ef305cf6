import type { SessionEvent } from "@agent-runtime/protocol";

/** A text delta with seq `seq`, as an owner node emits them during a turn. */
export function deltaEvent(sessionId: string, seq: number, delta = `delta ${seq}`): SessionEvent {
  return {
    type: "session:block:delta",
    sessionId,
    seq,
    timestamp: new Date(1_700_000_000_000 + seq).toISOString(),
    blockId: "block-1",
    delta,
  };
}
