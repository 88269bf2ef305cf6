import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import type { ExitStatus, SandboxProcess } from "../sandboxes/sandbox-provider.js";

/**
 * A process of a fake sandbox: three in-memory byte streams and an exit that
 * whoever plays the process decides (`exit`), or a signal (`kill`) forces.
 * `exited` resolves once stdout and stderr have ended, so every byte written
 * to them before `exit` is read before the exit is seen, as with a real pipe.
 */
export class FakeProcess implements SandboxProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | undefined;
  private resolveExit: (status: ExitStatus) => void = () => undefined;

  constructor(readonly pid: number) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /** How the process ended; undefined while it runs. */
  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** Writes to stdout; ignored after the exit. */
  writeStdout(text: string): void {
    if (!this.status) this.stdout.write(text);
  }

  /**
   * Ends the process with `status`: stdin is closed (writes to it fail, as
   * to a dead process), stdout and stderr end. Only the first call counts.
   */
  exit(status: ExitStatus): void {
    if (this.status) return;
    this.status = status;
    this.stdin.destroy();
    this.stdout.end();
    this.stderr.end();
    // Unread output is drained so the streams end even when nobody reads them.
    this.stdout.resume();
    this.stderr.resume();
    void Promise.all([finished(this.stdout), finished(this.stderr)]).finally(() => this.resolveExit(status));
  }

  /** Ends the process as killed by `signal`; a no-op after the exit. */
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    this.exit({ code: null, signal });
  }
}
