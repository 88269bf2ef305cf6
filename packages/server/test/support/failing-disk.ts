import type { PersistenceAdapter } from "../../src/index.js";

export type DiskMode = "ok" | "throw" | "hang";

/**
 * A test double of a failing disk around a real adapter: in `throw` mode
 * every call (but `init`/`close`) rejects; in `hang` mode calls wait until
 * the mode changes and then go through. Records each call with its time.
 */
export class FailingDisk {
  mode: DiskMode = "ok";
  readonly calls: Array<{ method: string; at: number; failed: boolean }> = [];
  private release: Array<() => void> = [];

  constructor(private readonly real: PersistenceAdapter) {}

  setMode(mode: DiskMode): void {
    this.mode = mode;
    if (mode !== "hang") for (const wake of this.release.splice(0)) wake();
  }

  adapter(): PersistenceAdapter {
    const real = this.real as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    return new Proxy(this.real, {
      get: (target, name, receiver) => {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function" || name === "init" || name === "close") return value;
        return async (...args: unknown[]) => {
          const call = { method: String(name), at: Date.now(), failed: this.mode !== "ok" };
          this.calls.push(call);
          if (this.mode === "throw") throw new Error(`disk failure in ${String(name)}`);
          if (this.mode === "hang") await new Promise<void>((resolve) => this.release.push(resolve));
          return real[String(name)]!.apply(target, args);
        };
      },
    });
  }
}
