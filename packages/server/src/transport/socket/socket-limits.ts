import { z } from "zod";
import { RuntimeError } from "../../errors.js";

const MIB = 1024 * 1024;

/**
 * What one socket.io client may cost the server. A caller is an API key, or
 * an address when no keys are configured (see `callerKey`); its limits hold
 * over all its sockets.
 */
export const socketLimitsSchema = z.object({
  /** Largest incoming frame (socket.io's `maxHttpBufferSize`); a bigger one closes its socket. @default 1 MiB */
  maxFrameBytes: z.number().int().min(1024).default(MIB),
  /**
   * Outgoing bytes a socket may have queued behind the batch its connection
   * is writing before it is dropped as a slow consumer. @default 16 MiB
   */
  maxBufferedBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * MIB),
  /**
   * How long a connection may take to write one batch (a client that stopped
   * reading never finishes) before its socket is dropped as a slow consumer.
   * @default 30_000
   */
  stallTimeoutMs: z.number().int().min(100).default(30_000),
  /** Sockets one caller may hold at once; the next handshake is refused with `TOO_MANY_SOCKETS`. @default 100 */
  maxSocketsPerCaller: z.number().int().min(1).default(100),
  /**
   * Events one caller may send (every event a client emits counts, over all
   * its sockets); over the rate an event is refused with `RATE_LIMITED` and
   * `retryAfter`, and a socket refused `maxRefusedInARow` times without an
   * admitted event in between is disconnected. `false` disables.
   * @default { eventsPerSecond: 20, burst: 200, maxRefusedInARow: 20 }
   */
  rateLimit: z
    .union([
      z.literal(false),
      z.object({
        /** Events per second, steadily. @default 20 */
        eventsPerSecond: z.number().positive().default(20),
        /** Events at once after a quiet while. @default 200 */
        burst: z.number().int().min(1).default(200),
        /** @default 20 */
        maxRefusedInARow: z.number().int().min(1).default(20),
      }),
    ])
    .prefault({}),
});

/** Socket limits as the caller writes them (every field optional). */
export type SocketLimitsInput = z.input<typeof socketLimitsSchema>;
/** Socket limits with defaults applied. */
export type SocketLimits = z.output<typeof socketLimitsSchema>;
/** The rate limit of socket events, with defaults applied. */
export type SocketRateLimit = Exclude<SocketLimits["rateLimit"], false>;

/** Applies the defaults; throws `VALIDATION_FAILED` naming what is wrong. */
export function resolveSocketLimits(input: SocketLimitsInput): SocketLimits {
  const parsed = socketLimitsSchema.safeParse(input);
  if (!parsed.success) {
    throw new RuntimeError("VALIDATION_FAILED", `Invalid socket limits: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
