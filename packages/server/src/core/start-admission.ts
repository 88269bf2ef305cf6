/** How urgent a start is: a message waits for it (`message`), or nobody does yet (`background`, e.g. a recovery). */
export type StartPriority = "message" | "background";

interface Waiter {
  readonly priority: StartPriority;
  readonly admit: () => void;
  readonly moved: (position: number) => void;
}

/**
 * Admission control for agent starts: at most `limit` sandboxes are being
 * created and their agents started at once (each start costs seconds of CPU,
 * which running turns share), the rest wait in order, message starts before
 * background ones. A waiting start is told its position (1 = next) whenever
 * it changes. Running turns never wait here.
 */
export class StartAdmission {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError("the start limit must be a whole number ≥ 1");
  }

  /** Starts running now or waiting. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves once the start may run, with the function that ends it (call
   * it exactly once, when the agent has started or failed). `moved` hears
   * the start's position while it waits; never called when it runs at once.
   */
  async admit(priority: StartPriority, moved: (position: number) => void): Promise<() => void> {
    if (this.running < this.limit && this.waiting.length === 0) {
      this.running++;
      return this.releaser();
    }
    await new Promise<void>((admit) => {
      const waiter: Waiter = { priority, admit, moved };
      const at = priority === "message" ? this.waiting.findIndex((w) => w.priority === "background") : -1;
      if (at === -1) this.waiting.push(waiter);
      else this.waiting.splice(at, 0, waiter);
      this.announce(at === -1 ? this.waiting.length - 1 : at);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.waiting.shift();
      if (!next) return;
      this.running++;
      next.admit();
      this.announce(0);
    };
  }

  /** Tells the waiters from `from` on their new positions. */
  private announce(from: number): void {
    for (let index = from; index < this.waiting.length; index++) this.waiting[index]!.moved(index + 1);
  }
}
