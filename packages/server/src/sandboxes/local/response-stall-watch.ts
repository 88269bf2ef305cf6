/**
 * The stall watch of one exchange the egress proxy forwards: `start()` once
 * its request has been sent, `received()` on the response's headers and on
 * each chunk of its body, `stop()` when the exchange ends either way. When
 * `timeoutMs` pass after `start()` or the last `received()` without another,
 * `onStall` is called with the phase the response was in; at most once, and
 * never after `stop()`.
 */
export class ResponseStallWatch {
  private timer: NodeJS.Timeout | undefined;
  private phase: "headers" | "body" = "headers";
  private over = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onStall: (phase: "headers" | "body") => void,
  ) {}

  start(): void {
    if (this.over || this.timer) return;
    this.timer = setTimeout(() => {
      this.over = true;
      this.onStall(this.phase);
    }, this.timeoutMs);
  }

  received(): void {
    this.phase = "body";
    if (!this.over) this.timer?.refresh();
  }

  stop(): void {
    this.over = true;
    clearTimeout(this.timer);
  }
}
