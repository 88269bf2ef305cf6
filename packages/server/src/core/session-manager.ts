import { randomUUID } from "node:crypto";
import {
  type Architecture,
  type CreateSessionRequest,
  createSessionRequestSchema,
  type ListSessionsQuery,
  type ListSessionsResponse,
  listSessionsQuerySchema,
  type SessionRecord,
  type SessionSummary,
  type TenantQuotas,
  type TenantUsageResponse,
} from "@agent-runtime/protocol";
import type { AgentArchitecture } from "../agents/agent-architecture.js";
import { RuntimeError } from "../errors.js";
import { decodeSessionListCursor, encodeSessionListCursor } from "../persistence/session-list-cursor.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import { assertProfileToolsOn } from "../profiles/profile-tools.js";
import { assertModelRunnable, sandboxNameFor } from "./agent-launch.js";
import { AgentSession } from "./agent-session.js";
import type { SessionEventListener } from "./event-log.js";
import type { AgentSessionDeps } from "./session-deps.js";
import { SessionListFeed } from "./session-list-feed.js";
import type { SessionOwnership } from "./session-ownership.js";
import { inScope, type SessionScope } from "./session-scope.js";
import { TenantQuotaBook } from "./tenant-quotas.js";
import { TenantUsageMeter } from "./tenant-usage-meter.js";
import { emptyUsage } from "./usage.js";

/** What every session shares (see `AgentSessionDeps`), plus what the manager itself needs. */
export interface SessionManagerOptions extends Omit<AgentSessionDeps, "architecture" | "profile"> {
  readonly architectures: ReadonlyMap<Architecture, AgentArchitecture>;
  readonly profiles: ProfileRegistry;
  /** How often live sessions are synced; 0 disables the timer. */
  readonly syncIntervalMs: number;
  /** How long `shutdown()` waits for sessions to close before killing their agents. */
  readonly shutdownGraceMs: number;
  /** Quotas per tenant (see `TenantQuota`); absent: none. */
  readonly quotas?: TenantQuotas;
  /** Cluster mode: who may run each session (see `SessionOwnership`); absent: this process runs every session. */
  readonly ownership?: SessionOwnership;
}

/** Sandbox states that hold a sandbox (or are making one); a suspended sandbox keeps its memory and disk. */
const HOLDING_SANDBOX = new Set(["preparing", "creating", "running", "suspended"]);
/** Records one listing read at a time while counting a tenant's sessions. */
const COUNT_PAGE = 500;

/**
 * Owns the live `AgentSession`s of this process. Sessions are loaded from
 * persistence on first use, synced periodically, and closed on shutdown.
 */
export class SessionManager {
  private readonly live = new Map<string, AgentSession>();
  private readonly loading = new Map<string, Promise<AgentSession | null>>();
  /** Sessions `destroy` is closing and deleting: missing to `get` meanwhile. */
  private readonly destroying = new Set<string>();
  private readonly globalListeners = new Set<SessionEventListener>();
  private syncTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /** The live session list: every creation, deletion and summary change of this process's sessions. */
  readonly listFeed = new SessionListFeed(this);
  /** What each tenant's sessions use (tokens, cost, sandbox-seconds). */
  readonly usage: TenantUsageMeter;
  private readonly quotas: TenantQuotaBook;
  /** Sessions between their quota admission and their message being queued (they hold a sandbox place). */
  private readonly admitting = new Set<AgentSession>();

  constructor(private readonly options: SessionManagerOptions) {
    this.quotas = new TenantQuotaBook(options.quotas);
    this.usage = new TenantUsageMeter(options.persistence, options.logger);
  }

  /** Starts the periodic sync. Called by `runtime.start()`. */
  start(): void {
    if (this.options.syncIntervalMs <= 0) return;
    this.syncTimer = setInterval(() => void this.syncAll(), this.options.syncIntervalMs);
    this.syncTimer.unref();
  }

  /** Listens to the events of every session of this process (transports fan them out). */
  subscribeAll(listener: SessionEventListener): () => void {
    this.globalListeners.add(listener);
    return () => this.globalListeners.delete(listener);
  }

  /**
   * Creates a session (no sandbox yet) of the tenant `request.tenantId`, or,
   * when `scope` names a tenant, of that tenant. Throws `PROFILE_NOT_FOUND`,
   * `UNSUPPORTED_ARCHITECTURE`, `VALIDATION_FAILED` (also when the profile
   * names a tool the architecture lacks), `FORBIDDEN` when the request names
   * a tenant other than the scope's, or the scope is limited to given sessions.
   */
  async create(request: CreateSessionRequest, scope?: SessionScope): Promise<AgentSession> {
    this.assertOpen();
    const parsed = createSessionRequestSchema.safeParse(request);
    if (!parsed.success) throw new RuntimeError("VALIDATION_FAILED", parsed.error.message);
    const tenantId = tenantOfNewSession(parsed.data.tenantId, scope);
    const limit = tenantId === undefined ? undefined : this.quotas.quotaOf(tenantId).sessions;
    if (tenantId === undefined || limit === undefined) return this.createChecked(parsed.data, tenantId);
    return this.quotas.serialCreate(tenantId, async () => {
      this.quotas.assertBelow(tenantId, "sessions", await this.countSessions(tenantId, limit));
      return this.createChecked(parsed.data, tenantId);
    });
  }

  /** `create` after the request was validated and the tenant decided. */
  private async createChecked(
    request: ReturnType<typeof createSessionRequestSchema.parse>,
    tenantId: string | undefined,
  ): Promise<AgentSession> {
    const { agentProfileRef, architecture, sessionOptions } = request;
    const profile = await this.options.profiles.get(agentProfileRef);
    const agent = this.architectureFor(architecture);
    assertProfileToolsOn(profile, architecture, `agent profile "${profile.id}"`);
    agent.assertRunnable?.(profile, sessionOptions ?? {});
    assertModelRunnable(agent, sessionOptions?.model ?? profile.model, this.options.modelProviders);
    const policy = sessionOptions?.permissions ?? profile.permissions;
    if (policy?.mode === "ask" && !agent.capabilities.permissions) {
      throw new RuntimeError(
        "UNSUPPORTED",
        `Architecture "${architecture}" cannot ask for tool permissions; use permissions mode "bypass"`,
      );
    }
    const now = new Date().toISOString();
    const sessionId = randomUUID();
    await this.options.ownership?.acquire(sessionId);
    const record: SessionRecord = {
      sessionId,
      ...(tenantId === undefined ? {} : { tenantId }),
      agentProfileRef: profile.id,
      architecture,
      sessionOptions: { ...(profile.model ? { model: profile.model } : {}), ...sessionOptions },
      createdAt: now,
      updatedAt: now,
      lastSeq: 0,
      usage: emptyUsage(),
    };
    let session: AgentSession;
    try {
      await this.options.persistence.createSession(record);
      session = await this.instantiate(record);
    } catch (error) {
      await this.options.ownership?.release(sessionId).catch(() => undefined);
      throw error;
    }
    this.live.set(record.sessionId, session);
    this.options.ownership?.attached(session);
    this.listFeed.created(session.summary());
    return session;
  }

  /**
   * Sends a user message to the session (see `AgentSession.send`) once the
   * quotas of its tenant admit it: its stored bytes below `storedBytes`, a
   * place under `runningSandboxes` when the session holds no sandbox yet
   * (so none is created past it), and one under `messagesPerMinute`.
   * Throws `QUOTA_EXCEEDED` (nothing queued, nothing started), and what
   * `get` and `AgentSession.send` throw.
   */
  async sendMessage(
    sessionId: string,
    message: Parameters<AgentSession["send"]>[0],
    scope?: SessionScope,
  ): Promise<{ turnId: string; queued: boolean }> {
    const session = await this.get(sessionId, scope);
    const { tenantId } = session;
    if (tenantId === undefined || !this.quotas.any) return session.send(message);
    await this.admitStorage(session);
    if (!this.holdsSandbox(session))
      this.quotas.assertBelow(tenantId, "runningSandboxes", this.runningSandboxes(tenantId));
    this.quotas.takeMessage(tenantId);
    this.admitting.add(session);
    try {
      return await session.send(message);
    } finally {
      this.admitting.delete(session);
    }
  }

  /**
   * Throws `QUOTA_EXCEEDED` when the tenant of `session` stores as many
   * workspace bytes as its `storedBytes` quota allows, or more: what would
   * store more (a message, a file write) is refused.
   */
  async admitStorage(session: AgentSession): Promise<void> {
    const { tenantId } = session;
    if (tenantId === undefined || this.quotas.quotaOf(tenantId).storedBytes === undefined) return;
    this.quotas.assertBelow(tenantId, "storedBytes", await this.storedBytes(tenantId));
  }

  /** What `tenantId` used and holds, and its quotas (`GET /usage`). */
  async tenantUsage(tenantId: string): Promise<TenantUsageResponse> {
    const [usage, sessions, storedBytes] = await Promise.all([
      this.usage.totals(tenantId),
      this.countSessions(tenantId),
      this.storedBytes(tenantId),
    ]);
    return {
      tenantId,
      usage,
      current: { sessions, runningSandboxes: this.runningSandboxes(tenantId), storedBytes },
      quota: this.quotas.quotaOf(tenantId),
    };
  }

  /** True when `session` has a sandbox (or is making one), or a turn that will use one. */
  private holdsSandbox(session: AgentSession): boolean {
    const { runtime } = session.summary();
    return HOLDING_SANDBOX.has(runtime.sandboxStatus) || runtime.busy || this.admitting.has(session);
  }

  /** The tenant's sessions in this process holding a sandbox (see `holdsSandbox`). */
  private runningSandboxes(tenantId: string): number {
    let count = 0;
    for (const session of this.live.values())
      if (session.tenantId === tenantId && this.holdsSandbox(session)) count += 1;
    return count;
  }

  /** The tenant's stored sessions, counted a page at a time up to `atMost` (absent: all). */
  private async countSessions(tenantId: string, atMost = Number.POSITIVE_INFINITY): Promise<number> {
    let count = 0;
    let after: SessionRecord | undefined;
    while (count < atMost) {
      const page = await this.options.persistence.listSessions({
        limit: COUNT_PAGE,
        tenantId,
        ...(after ? { after: { updatedAt: after.updatedAt, sessionId: after.sessionId } } : {}),
      });
      // The adapter selects the tenant; checked again, as listings do.
      count += page.filter((record) => record.tenantId === tenantId).length;
      after = page.at(-1);
      if (page.length < COUNT_PAGE) break;
    }
    return count;
  }

  /**
   * Workspace bytes stored for the tenant's sessions: a loaded session's
   * from its index in memory, the others' from their stored file lists.
   */
  private async storedBytes(tenantId: string): Promise<number> {
    let total = 0;
    let after: SessionRecord | undefined;
    for (;;) {
      const page = await this.options.persistence.listSessions({
        limit: COUNT_PAGE,
        tenantId,
        ...(after ? { after: { updatedAt: after.updatedAt, sessionId: after.sessionId } } : {}),
      });
      for (const record of page) {
        if (record.tenantId !== tenantId) continue;
        const live = this.live.get(record.sessionId);
        if (live) total += live.storedBytes;
        else
          for (const file of await this.options.persistence.listWorkspaceFiles(record.sessionId))
            total += file.size;
      }
      after = page.at(-1);
      if (page.length < COUNT_PAGE) return total;
    }
  }

  /**
   * The live session, loading it from persistence when needed. Throws
   * `SESSION_NOT_FOUND`, also while the session is being destroyed and when
   * it lies outside `scope`.
   */
  async get(sessionId: string, scope?: SessionScope): Promise<AgentSession> {
    const session = this.destroying.has(sessionId) ? null : await this.find(sessionId, scope);
    if (!session || this.destroying.has(sessionId)) throw sessionNotFound(sessionId);
    return session;
  }

  /**
   * The live session, loaded from persistence when needed; `null` when there
   * is none or it lies outside `scope`. With a scope, the stored record is
   * read first: a session outside the scope is never loaded by the look-up
   * (loading one may change it, e.g. close a turn a crash left open), and
   * one that is live costs the same storage read as a missing one.
   */
  private async find(sessionId: string, scope?: SessionScope): Promise<AgentSession | null> {
    const live = this.live.get(sessionId);
    if (!scope) return live ?? (await this.load(sessionId));
    if (live && inScope({ sessionId, tenantId: live.tenantId }, scope)) return live;
    const record = await this.options.persistence.loadSession(sessionId);
    if (live || !record || !inScope(record, scope)) return null;
    return this.load(sessionId);
  }

  /** The newest sessions in `scope`: the first page of `listPage`. */
  async list(scope?: SessionScope): Promise<SessionSummary[]> {
    return (await this.listPage({}, scope)).sessions;
  }

  /**
   * One page of the persisted sessions (newest `updatedAt` first, see
   * `PersistenceAdapter.listSessions`), with live runtime state where a
   * session is loaded, and the cursor of the next page (`null` after the
   * last). Only sessions in `scope` are listed (a scope limited to given
   * sessions may make pages shorter than `limit`). Throws
   * `VALIDATION_FAILED` for a limit out of range or a cursor this server did
   * not issue.
   */
  async listPage(request: ListSessionsQuery = {}, scope?: SessionScope): Promise<ListSessionsResponse> {
    const parsed = listSessionsQuerySchema.safeParse(request);
    if (!parsed.success) throw new RuntimeError("VALIDATION_FAILED", parsed.error.message);
    const { limit, cursor } = parsed.data;
    const records = await this.options.persistence.listSessions({
      // One more than asked says whether a next page exists.
      limit: limit + 1,
      ...(cursor === undefined ? {} : { after: decodeSessionListCursor(cursor) }),
      ...(scope?.tenantId === undefined ? {} : { tenantId: scope.tenantId }),
    });
    const page = records.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = records.length > limit && last ? encodeSessionListCursor(last) : null;
    // The adapter selects the tenant; checked again, so isolation never rests on an application's adapter.
    const sessions = page.filter((record) => inScope(record, scope)).map((record) => this.summaryOf(record));
    return { sessions, nextCursor };
  }

  /**
   * The session's summary as it stands: live when it is loaded, else from
   * its stored record (never loading it: an unloaded session stays so); null
   * when there is none.
   */
  async currentSummary(sessionId: string): Promise<SessionSummary | null> {
    const session = this.live.get(sessionId);
    if (session) return session.summary();
    const record = await this.options.persistence.loadSession(sessionId);
    return record ? this.summaryOf(record) : null;
  }

  /** The summary of a listed session: live when it is loaded, else from its record. */
  private summaryOf(record: SessionRecord): SessionSummary {
    const session = this.live.get(record.sessionId);
    if (session) return session.summary();
    return {
      ...record,
      runtime: {
        isLoaded: false,
        sandboxStatus: record.nativeSessionId ? "terminated" : "pending",
        busy: false,
        queuedMessages: [],
        lastActivityAt: record.updatedAt,
      },
    };
  }

  /**
   * Closes the session, removes its sandbox with everything its provider
   * keeps for it, and deletes the session from persistence. Throws
   * `SESSION_NOT_FOUND` when there is none, it is being destroyed already,
   * or it lies outside `scope`.
   */
  async destroy(sessionId: string, scope?: SessionScope): Promise<void> {
    if (scope) await this.get(sessionId, scope);
    return this.destroyAny(sessionId);
  }

  private destroyAny(sessionId: string): Promise<void> {
    if (this.destroying.has(sessionId)) return Promise.reject(sessionNotFound(sessionId));
    this.destroying.add(sessionId);
    return this.listFeed.deletion(
      sessionId,
      (async () => {
        const session = await this.find(sessionId);
        if (!session) throw sessionNotFound(sessionId);
        await session.close();
        this.live.delete(sessionId);
        await this.options.sandboxProvider.remove(sandboxNameFor(sessionId));
        await this.options.persistence.deleteSession(sessionId);
        await this.options.ownership?.release(sessionId, { deleted: true });
        return { tenantId: session.tenantId };
      })().finally(() => this.destroying.delete(sessionId)),
    );
  }

  /**
   * Unloads a session (see `AgentSession.unload`): synced, its sandbox
   * terminated, everything kept; the next message or read loads it again.
   * Answers once it is unloaded; a session not loaded here is left as it
   * is. Throws as `get` does.
   */
  async stop(sessionId: string, scope?: SessionScope): Promise<void> {
    const session = this.destroying.has(sessionId) ? undefined : this.live.get(sessionId);
    if (session && inScope({ sessionId, tenantId: session.tenantId }, scope)) {
      this.live.delete(sessionId);
      await session.unload();
      await this.options.ownership?.release(sessionId);
      return;
    }
    const record = session ? null : await this.options.persistence.loadSession(sessionId);
    if (!record || !inScope(record, scope) || this.destroying.has(sessionId))
      throw sessionNotFound(sessionId);
  }

  /** Syncs every live session; a session retries its own failed syncs with backoff. */
  async syncAll(): Promise<void> {
    await Promise.all([
      ...[...this.live.values()].map((session) => session.sync().catch(() => undefined)),
      this.usage.flush(),
    ]);
  }

  /**
   * Closes every live session (interrupt, sync, sandbox teardown). Sessions
   * still closing after `shutdownGraceMs` have their agents killed at once;
   * resolves when that is done. New sessions are refused from the first call.
   */
  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.syncTimer);
    const sessions = [...this.live.values()];
    let timer: NodeJS.Timeout | undefined;
    const closed = Promise.all(sessions.map((session) => session.close())).then(() => true);
    const graceOver = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.shutdownGraceMs);
    });
    const inTime = await Promise.race([closed, graceOver]);
    clearTimeout(timer);
    if (!inTime) {
      this.options.logger.warn(
        "sessions did not close within the shutdown grace period; killing their agents",
      );
      await Promise.all(sessions.map((session) => session.kill()));
    }
    this.live.clear();
    const { ownership } = this.options;
    if (ownership)
      await Promise.all(sessions.map((session) => ownership.release(session.id).catch(() => undefined)));
    await this.usage.flush();
  }

  /**
   * Cluster mode: another node took the session over (this node lost its
   * lease), so it stops running here at once, without writing anything:
   * its writes would be refused. Its clients follow it on the new owner.
   */
  async evict(sessionId: string): Promise<void> {
    const session = this.live.get(sessionId);
    if (!session) return;
    this.live.delete(sessionId);
    this.options.logger.warn({ sessionId }, "another node took this session over; it stops running here");
    await session.kill();
    await this.options.ownership?.release(sessionId).catch(() => undefined);
  }

  /**
   * Resolves once no live session runs a turn or has messages waiting, or
   * after `timeoutMs` (false then). A draining cluster node lets turns
   * finish this way before it closes its sessions.
   */
  async waitUntilIdle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const busy = () => [...this.live.values()].some((session) => session.summary().runtime.busy);
    while (busy()) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return true;
  }

  /** Where sessions are stored (reads of sessions this process does not run, in cluster mode). */
  get persistence(): SessionManagerOptions["persistence"] {
    return this.options.persistence;
  }

  /** True when the session is loaded in this process. */
  isLive(sessionId: string): boolean {
    return this.live.has(sessionId);
  }

  get liveCount(): number {
    return this.live.size;
  }

  private load(sessionId: string): Promise<AgentSession | null> {
    let pending = this.loading.get(sessionId);
    if (!pending) {
      pending = this.loadFromPersistence(sessionId).finally(() => this.loading.delete(sessionId));
      this.loading.set(sessionId, pending);
    }
    return pending;
  }

  private async loadFromPersistence(sessionId: string): Promise<AgentSession | null> {
    const { persistence, ownership } = this.options;
    const claimed = await ownership?.acquire(sessionId);
    let session: AgentSession;
    try {
      const stored = await persistence.loadSession(sessionId);
      if (!stored) {
        await ownership?.release(sessionId, { deleted: true });
        return null;
      }
      // Events a previous owner shared after its last sync keep their seqs: this one continues after them.
      const record =
        claimed && claimed.lastSeq > stored.lastSeq ? { ...stored, lastSeq: claimed.lastSeq } : stored;
      const [blocks, files] = await Promise.all([
        persistence.loadBlocks(sessionId),
        persistence.listWorkspaceFiles(sessionId),
      ]);
      session = await this.instantiate(record, { blocks, files });
    } catch (error) {
      await ownership?.release(sessionId).catch(() => undefined);
      throw error;
    }
    const raced = this.live.get(sessionId);
    if (raced) return raced;
    this.live.set(sessionId, session);
    ownership?.attached(session);
    return session;
  }

  private async instantiate(
    record: SessionRecord,
    restored?: ConstructorParameters<typeof AgentSession>[2],
  ): Promise<AgentSession> {
    const {
      architectures: _architectures,
      profiles,
      syncIntervalMs: _sync,
      shutdownGraceMs: _grace,
      quotas: _quotas,
      ownership: _ownership,
      ...shared
    } = this.options;
    const session = new AgentSession(
      {
        ...shared,
        architecture: this.architectureFor(record.architecture),
        profile: await profiles.get(record.agentProfileRef),
      },
      record,
      restored,
    );
    session.subscribe((event) => {
      this.usage.observe(session.tenantId, event);
      for (const listener of this.globalListeners) listener(event);
    });
    return session;
  }

  private architectureFor(id: Architecture): AgentArchitecture {
    const architecture = this.options.architectures.get(id);
    if (!architecture) {
      throw new RuntimeError(
        "UNSUPPORTED_ARCHITECTURE",
        `Architecture "${id}" is not available on this server`,
      );
    }
    return architecture;
  }

  private assertOpen(): void {
    if (this.closing) throw new RuntimeError("SHUTTING_DOWN", "The server is shutting down");
  }
}

/** The tenant a new session belongs to: the scope's, else the one the request names (see `create`). */
function tenantOfNewSession(
  requested: string | undefined,
  scope: SessionScope | undefined,
): string | undefined {
  if (scope?.sessionIds !== undefined)
    throw new RuntimeError("FORBIDDEN", "A caller limited to given sessions cannot create sessions");
  if (scope?.tenantId === undefined) return requested;
  if (requested !== undefined && requested !== scope.tenantId)
    throw new RuntimeError("FORBIDDEN", "A tenant's key creates sessions of its own tenant only");
  return scope.tenantId;
}

function sessionNotFound(sessionId: string): RuntimeError {
  return new RuntimeError("SESSION_NOT_FOUND", `Session ${sessionId} not found`);
}
