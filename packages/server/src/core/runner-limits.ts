import { z } from "zod";

const MIB = 1024 * 1024;

/**
 * Bounds on what a sandbox's runner may send the server, per runner
 * connection. Within them, excess `log` lines and reports of invalid lines
 * are dropped and counted; past them (one line too long, a flood over its
 * budget) the runner is stopped and its session gets a `RUNNER_PROTOCOL` error.
 */
export const runnerLimitsSchema = z.object({
  /**
   * Longest line, in bytes before its line break. Agent messages carrying
   * big tool results are legitimately a few MiB. @default 16 MiB
   */
  maxLineBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * MIB),
  /** `log` lines passed on per second, steadily. @default 100 */
  logLinesPerSecond: z.number().positive().default(100),
  /** `log` lines passed on at once after a quiet while. @default 500 */
  logLineBurst: z.number().int().min(1).default(500),
  /** Dropped `log` lines allowed before the flood is a violation. @default 5_000 */
  maxDroppedLogLines: z.number().int().min(0).default(5_000),
  /** Invalid lines logged per second (all are counted). @default 10 */
  invalidLinesLoggedPerSecond: z.number().positive().default(10),
  /** Invalid lines allowed before they are a violation. @default 1_000 */
  maxInvalidLines: z.number().int().min(0).default(1_000),
});

/** Runner limits as the caller writes them (every field optional). */
export type RunnerLimitsInput = z.input<typeof runnerLimitsSchema>;
/** Runner limits with defaults applied. */
export type RunnerLimits = z.output<typeof runnerLimitsSchema>;
