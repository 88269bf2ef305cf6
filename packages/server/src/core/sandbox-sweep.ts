import type { Logger } from "pino";
import { errorMessage } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import type { SandboxProvider } from "../sandboxes/sandbox-provider.js";

/** How long the start-up sweep may run before it stops where it is. */
export const SWEEP_TIME_LIMIT_MS = 60_000;

/** The session id a sandbox name stands for (`sandboxNameFor`), or undefined for another name. */
function sessionOf(name: string): string | undefined {
  return /^session-(.+)$/.exec(name)?.[1];
}

/**
 * The start-up sweep: asks `provider.sweep` (when it has one) to terminate
 * the sandboxes left running for sessions storage no longer has (deleted,
 * or never known to it), leaving the others for their sessions to take
 * over. A name that is not a session's is never an orphan. Runs at most
 * `timeLimitMs` (then stops, keeping what it did) or until `signal` aborts;
 * logs what it did; never throws (a failure is logged as a warning).
 */
export async function sweepOrphanSandboxes(
  provider: SandboxProvider,
  persistence: Pick<PersistenceAdapter, "loadSession">,
  logger: Logger,
  signal: AbortSignal,
  timeLimitMs = SWEEP_TIME_LIMIT_MS,
): Promise<void> {
  if (!provider.sweep) return;
  const started = Date.now();
  const limit = AbortSignal.any([signal, AbortSignal.timeout(timeLimitMs)]);
  try {
    const result = await provider.sweep(async (name) => {
      const sessionId = sessionOf(name);
      return sessionId !== undefined && (await persistence.loadSession(sessionId)) === null;
    }, limit);
    const fields = {
      provider: provider.id,
      stopped: result.stopped,
      kept: result.kept,
      skipped: result.skipped,
      durationMs: Date.now() - started,
      ...(limit.aborted ? { stoppedEarly: true } : {}),
    };
    if (result.stopped.length > 0 || result.skipped > 0 || limit.aborted) {
      logger.info(fields, "sandbox sweep: stopped the sandboxes of sessions that are gone");
    } else {
      logger.debug(fields, "sandbox sweep: nothing to stop");
    }
  } catch (error) {
    logger.warn({ provider: provider.id, err: errorMessage(error) }, "sandbox sweep failed");
  }
}
