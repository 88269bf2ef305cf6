import { randomUUID } from "node:crypto";
import { freemem } from "node:os";
import type { AgentProfile, Architecture, SessionOptions } from "@agent-runtime/protocol";
import type { Logger } from "pino";
import type { AgentArchitecture } from "../agents/agent-architecture.js";
import type { DependencyLayers } from "../dependencies/dependency-layers.js";
import { errorMessage, RuntimeError } from "../errors.js";
import type { EgressStall, ExitStatus, Sandbox, SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { egressFor, type LaunchSettings, launchInput, profileFiles, untrackedPaths } from "./agent-launch.js";
import { RunnerConnection, type RunnerHandlers } from "./runner-connection.js";
import type { RunnerLimits } from "./runner-limits.js";
import type { StartAdmission } from "./start-admission.js";

/** Architectures whose runner changes the model of a running agent (`set_model`). */
const LIVE_MODEL_ARCHITECTURES: ReadonlySet<Architecture> = new Set(["claude-agent-sdk"]);

/** How long a (profile, architecture) waits before it is filled again after a failed start. */
const FAILED_FILL_BACKOFF_MS = 10_000;

export interface WarmPoolOptions extends Omit<LaunchSettings, "architecture" | "profile"> {
  /** Started sandboxes kept ready per (profile, architecture) in use. ≥ 1. */
  readonly size: number;
  /** Profiles kept warm from the start (`id` for Claude Code, or `id:architecture`), besides those in use. @default [] */
  readonly profiles?: readonly string[];
  /** An entry older than this is discarded and replaced. @default 1_800_000 (30 min) */
  readonly maxAgeMs?: number;
  /**
   * How long after a take its replacement starts: an agent's start takes
   * seconds of CPU, which the session that took the entry needs for its
   * first turn meanwhile. @default 2_000
   */
  readonly refillDelayMs?: number;
  /** No entry is started while the machine has less memory available than this. @default 1 GiB */
  readonly minAvailableMemoryBytes?: number;
  /** Bytes of memory the machine has available. @default `os.freemem()` */
  readonly availableMemory?: () => number;
  readonly architectures: ReadonlyMap<Architecture, AgentArchitecture>;
  /** The current profile of an id (throws `PROFILE_NOT_FOUND`). */
  readonly profile: (id: string) => Promise<AgentProfile>;
  readonly sandboxProvider: SandboxProvider;
  readonly dependencyLayers: DependencyLayers;
  /** Entries start as `background` starts, behind every message's. */
  readonly startAdmission: StartAdmission;
  readonly runnerLimits: RunnerLimits;
  /** Egress proxies report a model response idle this long (to the session holding the sandbox); 0 disables. */
  readonly modelStallTimeoutMs: number;
  readonly logger: Logger;
}

/** What the pool has done since it was made (`/metrics`). */
export interface WarmPoolStats {
  /** Entries ready now, all keys together. */
  readonly size: number;
  /** First messages that took an entry. */
  readonly hits: number;
  /** First messages of fresh sessions that found none that fits. */
  readonly misses: number;
}

/** A session's claim on a pooled sandbox (see `WarmPool.take`). */
export interface WarmTake {
  readonly profile: AgentProfile;
  readonly architecture: Architecture;
  readonly sessionOptions: SessionOptions;
  /** The name the sandbox gets (the session's). */
  readonly sandboxName: string;
}

/**
 * A started sandbox and runner handed to a session. Until `assign`, its
 * runner's output goes nowhere (it has not been sent a message yet).
 */
export interface WarmSandbox {
  readonly sandbox: Sandbox;
  readonly runner: RunnerConnection;
  /** The model the agent was started with (the session's may differ: send it `set_model`). */
  readonly model: string | undefined;
  /** Routes the runner's output and the egress proxy's stall reports to the session from now on. */
  assign(handlers: RunnerHandlers, onStall: ((stall: EgressStall) => void) | undefined): void;
}

interface Entry extends WarmSandbox {
  /** What the agent was started from (see `basisOf`): a session of the same basis may take it. */
  readonly basis: string;
  readonly expiry: NodeJS.Timeout;
}

interface Slot {
  readonly profileId: string;
  readonly architecture: Architecture;
  readonly ready: Entry[];
  filling: number;
  /** No fill before this time (a start failed). */
  retryAt: number;
}

/**
 * Keeps `size` sandboxes started ahead, each with its runner and agent
 * running, for every (profile, architecture) a session has asked for and
 * those listed in `profiles`. A fresh session's first message takes one
 * (`take`) whose agent was started from the same profile and options (the
 * model aside, where the runner can change it live); only then is it named
 * for that session and handed to it. Each take (after `refillDelayMs`),
 * death and age-out refills in the background, as background starts of the
 * runtime's admission control, never while the machine's available memory is
 * below the bound.
 */
export class WarmPool {
  private readonly slots = new Map<string, Slot>();
  private hits = 0;
  private misses = 0;
  private closed = false;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: WarmPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new RuntimeError("VALIDATION_FAILED", "The warm pool's size must be a whole number ≥ 1");
  }

  /** Starts filling the listed profiles' slots. Throws `VALIDATION_FAILED` for an unknown architecture. */
  start(): void {
    for (const listed of this.options.profiles ?? []) {
      const [profileId = "", architecture = "claude-agent-sdk"] = listed.split(":");
      if (!this.options.architectures.has(architecture as Architecture)) {
        throw new RuntimeError(
          "VALIDATION_FAILED",
          `Warm pool profile "${listed}": architecture "${architecture}" is not available`,
        );
      }
      this.fill(this.slotOf(profileId, architecture as Architecture));
    }
  }

  stats(): WarmPoolStats {
    let size = 0;
    for (const slot of this.slots.values()) size += slot.ready.length;
    return { size, hits: this.hits, misses: this.misses };
  }

  /**
   * A ready entry started from the same profile and options as the session
   * of `take` (the model aside where it can change live), renamed to
   * `take.sandboxName`; undefined (a miss) when there is none or renaming
   * fails, the entry then kept for another session. Refills either way.
   * Undefined too when the pool is drained meanwhile (the entry is removed
   * then, and `drain` waits for that).
   */
  async take(take: WarmTake): Promise<WarmSandbox | undefined> {
    if (this.closed) return undefined;
    const slot = this.slotOf(take.profile.id, take.architecture);
    const basis = this.basisOf(take.profile, take.architecture, take.sessionOptions);
    const at = slot.ready.findIndex((entry) => !entry.runner.exited && entry.basis === basis);
    const entry = at === -1 ? undefined : slot.ready.splice(at, 1)[0]!;
    if (entry) {
      // `drain` waits for a take under way, and a pool drained meanwhile removes the entry instead of handing it out.
      let taken!: () => void;
      const taking = new Promise<void>((resolve) => {
        taken = resolve;
      });
      this.pending.add(taking);
      try {
        await entry.sandbox.rename!(take.sandboxName);
        if (this.closed) {
          await this.discard(entry);
          return undefined;
        }
        clearTimeout(entry.expiry);
        this.hits += 1;
        this.refillLater(slot);
        return entry;
      } catch (error) {
        this.options.logger.warn(
          { err: errorMessage(error) },
          "a warm sandbox could not be named for its session",
        );
        if (entry.runner.exited || this.closed) await this.discard(entry);
        else slot.ready.push(entry);
      } finally {
        this.pending.delete(taking);
        taken();
      }
    }
    this.misses += 1;
    this.fill(slot);
    return undefined;
  }

  /** Fills the slot after `refillDelayMs`. */
  private refillLater(slot: Slot): void {
    setTimeout(() => this.fill(slot), this.options.refillDelayMs ?? 2_000).unref();
  }

  /** Stops refilling and removes every ready entry (sandbox, disk, everything its provider keeps). Idempotent. */
  async drain(): Promise<void> {
    this.closed = true;
    const entries = [...this.slots.values()].flatMap((slot) => slot.ready.splice(0));
    await Promise.all(entries.map((entry) => this.discard(entry)));
    // Entries still starting remove themselves when they are ready.
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private slotOf(profileId: string, architecture: Architecture): Slot {
    const key = `${architecture}\u0000${profileId}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { profileId, architecture, ready: [], filling: 0, retryAt: 0 };
      this.slots.set(key, slot);
    }
    return slot;
  }

  /**
   * What an agent is started from: the profile, the architecture and the
   * session's options, without the model where the runner changes it live
   * (a session whose model differs only there can take the entry).
   */
  private basisOf(profile: AgentProfile, architecture: Architecture, sessionOptions: SessionOptions): string {
    return JSON.stringify({
      profile,
      architecture,
      model: LIVE_MODEL_ARCHITECTURES.has(architecture) ? null : (sessionOptions.model ?? null),
      permissions: sessionOptions.permissions ?? null,
      acp: sessionOptions.acp ?? null,
    });
  }

  /** Starts entries until the slot holds `size` (ready or starting), unless memory is short or a start just failed. */
  private fill(slot: Slot): void {
    const { size, logger } = this.options;
    while (!this.closed && slot.ready.length + slot.filling < size) {
      if (Date.now() < slot.retryAt) return;
      const available = (this.options.availableMemory ?? freemem)();
      const floor = this.options.minAvailableMemoryBytes ?? 1024 ** 3;
      if (available < floor) {
        logger.info({ available, floor }, "warm pool: not refilled, the machine's available memory is low");
        return;
      }
      slot.filling += 1;
      const started: Promise<void> = this.startEntry(slot)
        .then(
          (entry) => {
            if (this.closed) return this.discard(entry);
            slot.ready.push(entry);
          },
          (error: unknown) => {
            // A provider that cannot rename sandboxes never will: the pool stops for good.
            if (RuntimeError.is(error) && error.code === "UNSUPPORTED") {
              if (!this.closed) logger.error({ err: errorMessage(error) }, "warm pool: disabled");
              this.closed = true;
              return;
            }
            slot.retryAt = Date.now() + FAILED_FILL_BACKOFF_MS;
            logger.warn({ err: errorMessage(error), profile: slot.profileId }, "warm pool: a start failed");
          },
        )
        .finally(() => {
          slot.filling -= 1;
          this.pending.delete(started);
        });
      this.pending.add(started);
    }
  }

  /** Creates a sandbox for the slot's profile, writes its files and starts its runner and agent. */
  private async startEntry(slot: Slot): Promise<Entry> {
    const { architectures, sandboxProvider, startAdmission, logger } = this.options;
    const architecture = architectures.get(slot.architecture)!;
    const profile = await this.options.profile(slot.profileId);
    const settings: LaunchSettings = { ...this.options, architecture, profile };
    const sessionOptions: SessionOptions = profile.model ? { model: profile.model } : {};
    const release = await startAdmission.admit("background", () => undefined);
    let sandbox: Sandbox | undefined;
    try {
      const layer = await this.options.dependencyLayers.prepare(profile, sandboxProvider, {
        building: () => undefined,
        output: () => undefined,
      });
      const egress = egressFor(settings);
      let onStall: ((stall: EgressStall) => void) | undefined;
      const stallTimeoutMs = this.options.modelStallTimeoutMs;
      sandbox = await sandboxProvider.create({
        name: `warm-${randomUUID()}`,
        ...(egress
          ? {
              network: {
                ...egress.network,
                ...(stallTimeoutMs > 0
                  ? { stallWatch: { timeoutMs: stallTimeoutMs, onStall: (stall) => onStall?.(stall) } }
                  : {}),
              },
            }
          : {}),
        ...(layer === undefined ? {} : { layer }),
      });
      if (!sandbox.rename) {
        throw new RuntimeError(
          "UNSUPPORTED",
          `The ${sandboxProvider.id} sandbox provider cannot name a started sandbox for its session, which a warm pool needs`,
        );
      }
      const dirs = { workspaceDir: sandbox.workspaceDir, homeDir: sandbox.homeDir };
      await sandbox.writeFiles(profileFiles(settings, dirs, sessionOptions));
      const input = launchInput(settings, dirs, sessionOptions);
      const config = {
        ...architecture.runnerConfig(input),
        watchIgnore: untrackedPaths(profile, architecture),
      };
      let target: RunnerHandlers | undefined;
      let entry: Entry | undefined;
      const runner = new RunnerConnection(
        sandbox,
        {
          onOutput: (output) => target?.onOutput(output),
          onInvalidLine: (line) => target?.onInvalidLine?.(line),
          onDropped: (dropped) => target?.onDropped?.(dropped),
          onViolation: (message) => target?.onViolation?.(message),
          onStderr: (text) => target?.onStderr?.(text),
          onExit: (status: ExitStatus) => {
            if (target) return target.onExit(status);
            if (entry) this.died(slot, entry, status);
          },
        },
        this.options.runnerLimits,
      );
      await runner.start(config, architecture.runnerEnv(input));
      const started = sandbox;
      entry = {
        sandbox: started,
        runner,
        model: config.model,
        basis: this.basisOf(profile, slot.architecture, sessionOptions),
        expiry: setTimeout(() => this.expired(slot, entry!), this.options.maxAgeMs ?? 1_800_000).unref(),
        assign(handlers, stall) {
          target = handlers;
          onStall = stall;
        },
      };
      logger.debug({ sandboxId: started.id, profile: profile.id }, "warm pool: an agent is ready");
      return entry;
    } catch (error) {
      if (sandbox) await this.removeSandbox(sandbox);
      throw error;
    } finally {
      release();
    }
  }

  /** A ready entry's runner exited: it is discarded and replaced. */
  private died(slot: Slot, entry: Entry, status: ExitStatus): void {
    const at = slot.ready.indexOf(entry);
    if (at === -1) return;
    slot.ready.splice(at, 1);
    this.options.logger.warn(
      { sandboxId: entry.sandbox.id, ...status },
      "warm pool: an agent exited; replacing it",
    );
    void this.discard(entry).then(() => this.fill(slot));
  }

  private expired(slot: Slot, entry: Entry): void {
    const at = slot.ready.indexOf(entry);
    if (at === -1) return;
    slot.ready.splice(at, 1);
    void this.discard(entry).then(() => this.fill(slot));
  }

  private async discard(entry: Entry): Promise<void> {
    clearTimeout(entry.expiry);
    entry.runner.kill();
    await this.removeSandbox(entry.sandbox);
  }

  /** Terminates the sandbox and removes everything its provider keeps of it. */
  private async removeSandbox(sandbox: Sandbox): Promise<void> {
    await sandbox.terminate().catch(() => undefined);
    await this.options.sandboxProvider
      .remove(sandbox.name)
      .catch((error: unknown) =>
        this.options.logger.warn({ err: errorMessage(error) }, "warm pool: a sandbox could not be removed"),
      );
  }
}
