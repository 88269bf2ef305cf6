import type { Logger } from "pino";
import { errorMessage } from "../errors.js";
import type { Sandbox } from "../sandboxes/sandbox-provider.js";

export interface IdleSuspensionOptions {
  /** Suspend the sandbox after this long without a turn; 0 disables. */
  readonly afterMs: number;
  readonly logger: Logger;
  /** The sandbox is suspended (every process frozen). */
  onSuspended(): void;
  /** The sandbox suspended before runs again. */
  onResumed(): void;
}

/**
 * Suspends an idle session's sandbox (`Sandbox.suspend`: its processes
 * frozen, so the agent costs no CPU; sandbox, disk and the agent's own state
 * kept) `afterMs` after its last turn, and resumes it when the session needs
 * its agent again, which then goes on where it stood: no new sandbox, no
 * restore, no agent start. Only sandboxes of providers declaring
 * `capabilities.suspend` are suspended. Suspend and resume run one after the
 * other, in the order they were asked for.
 */
export class IdleSuspension {
  private timer: NodeJS.Timeout | undefined;
  /** The sandbox suspended, or being suspended; undefined once resumed. */
  private target: Sandbox | undefined;
  /** The last suspend or resume, which the next one follows; never rejects. */
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly options: IdleSuspensionOptions) {}

  /** True from the moment the sandbox starts being suspended until `resume` is asked. */
  get suspended(): boolean {
    return this.target !== undefined;
  }

  /**
   * Suspends `sandbox` after `afterMs` unless `cancel` or `resume` is called
   * first; replaces a pending suspension. A no-op when disabled, when the
   * sandbox cannot be suspended, or when one is suspended already.
   */
  arm(sandbox: Sandbox, supported: boolean): void {
    this.cancel();
    if (this.options.afterMs <= 0 || !supported || !sandbox.suspend || !sandbox.resume || this.target) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.suspend(sandbox);
    }, this.options.afterMs);
    this.timer.unref();
  }

  /** Drops a pending suspension; one already made stays (see `resume`). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Cancels a pending suspension and thaws the sandbox when it is suspended
   * (after its suspension completes, when that is still under way).
   * Resolves once it runs again; rejects when it could not be resumed (the
   * caller should terminate it then). `report`: false when the sandbox is
   * resumed only to be stopped (no `onResumed`).
   */
  resume(report = true): Promise<void> {
    this.cancel();
    const sandbox = this.target;
    if (!sandbox) return this.last;
    this.target = undefined;
    const resumed = this.last.then(async () => {
      await sandbox.resume?.();
      if (report) this.options.onResumed();
    });
    this.last = resumed.catch((error) => {
      this.options.logger.error({ error: errorMessage(error) }, "could not resume the suspended sandbox");
    });
    return resumed;
  }

  /** Forgets a suspended sandbox without resuming it (it is being terminated, which needs no resume). */
  forget(): void {
    this.cancel();
    this.target = undefined;
  }

  private suspend(sandbox: Sandbox): void {
    this.target = sandbox;
    this.last = this.last
      .then(() => sandbox.suspend?.())
      .then(
        () => {
          if (this.target !== sandbox) return;
          this.options.logger.info("idle: sandbox suspended");
          this.options.onSuspended();
        },
        (error) => {
          // It runs on, as if never suspended.
          if (this.target === sandbox) this.target = undefined;
          this.options.logger.warn({ error: errorMessage(error) }, "could not suspend the idle sandbox");
        },
      );
  }
}
