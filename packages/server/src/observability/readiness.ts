import { errorMessage } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import type { SandboxProvider } from "../sandboxes/sandbox-provider.js";

/** One dependency's state, as `GET /ready` reports it. */
export interface ReadinessCheck {
  readonly ok: boolean;
  /** Why it is not usable (absent when `ok`). */
  readonly message?: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: {
    readonly storage: ReadinessCheck;
    readonly sandbox: ReadinessCheck;
    /** Cluster mode: the node is a member (announced, not draining; Redis and the lease table answer). */
    readonly cluster?: ReadinessCheck;
  };
}

export interface ReadinessOptions {
  /** A check that has not answered after this long counts as failed. @default 2_000 */
  readonly timeoutMs?: number;
  /**
   * How long a sandbox provider check's result is reused (a local check
   * starts a bubblewrap process; probes come every few seconds). @default 10_000
   */
  readonly sandboxCheckCacheMs?: number;
  /** Cluster mode: resolves when the node is a member of its cluster, throws saying why not (see `Cluster.checkMembership`). */
  readonly cluster?: () => Promise<void>;
}

/**
 * Readiness of the server to take work (`GET /ready`, for load balancers):
 * storage answers a read, and the sandbox provider's `check()` passes.
 * Concurrent probes share one run of each check.
 */
export class ReadinessProbe {
  private sandboxResult: { at: number; check: Promise<ReadinessCheck> } | undefined;
  private storageRun: Promise<ReadinessCheck> | undefined;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private readonly cluster: (() => Promise<void>) | undefined;

  constructor(
    private readonly persistence: PersistenceAdapter,
    private readonly sandboxProvider: SandboxProvider,
    options: ReadinessOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.cacheMs = options.sandboxCheckCacheMs ?? 10_000;
    this.cluster = options.cluster;
  }

  async check(): Promise<Readiness> {
    const { cluster } = this;
    const [storage, sandbox, member] = await Promise.all([
      this.storage(),
      this.sandbox(),
      cluster ? this.bounded("cluster membership", cluster) : undefined,
    ]);
    return {
      ready: storage.ok && sandbox.ok && (member?.ok ?? true),
      checks: { storage, sandbox, ...(member ? { cluster: member } : {}) },
    };
  }

  private storage(): Promise<ReadinessCheck> {
    this.storageRun ??= this.bounded("storage", () => this.persistence.listSessions({ limit: 1 })).finally(
      () => {
        this.storageRun = undefined;
      },
    );
    return this.storageRun;
  }

  private sandbox(): Promise<ReadinessCheck> {
    const now = Date.now();
    if (!this.sandboxResult || now - this.sandboxResult.at >= this.cacheMs) {
      this.sandboxResult = {
        at: now,
        check: this.bounded("sandbox provider", () => this.sandboxProvider.check()),
      };
    }
    return this.sandboxResult.check;
  }

  private async bounded(what: string, work: () => Promise<unknown>): Promise<ReadinessCheck> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ReadinessCheck>((resolve) => {
      timer = setTimeout(
        () => resolve({ ok: false, message: `${what} did not answer within ${this.timeoutMs} ms` }),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([
        Promise.resolve()
          .then(work)
          .then(
            (): ReadinessCheck => ({ ok: true }),
            (error: unknown): ReadinessCheck => ({ ok: false, message: errorMessage(error) }),
          ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
