import type {
  ArchitectureInfo,
  Block,
  CreateSessionRequest,
  MessageAttachment,
  SendMessageResponse,
  SessionOptions,
  SessionOptionsPatch,
  SessionSummary,
} from "@agent-runtime/protocol";
import { AgentRuntimeError } from "./agent-runtime-error.js";
import { EventLog } from "./event-log.js";
import { FileContentCache } from "./file-content-cache.js";
import { type PermissionDecision, RestClient } from "./rest-client.js";
import { SessionListStore } from "./session-list-store.js";
import type { SessionSnapshot } from "./session-snapshot.js";
import { SessionStore } from "./session-store.js";
import { SocketConnection, type SocketConnectionOptions } from "./socket-connection.js";
import { type TokenAnswer, TokenSource } from "./token-source.js";

export interface AgentRuntimeClientOptions {
  /**
   * The server's base URL, e.g. `http://localhost:3000`; with the server's
   * route prefix, if it has one (`http://host/api` for `serve --base-path
   * /api`): REST calls and socket.io (`/api/socket.io/`) go under it.
   */
  readonly apiUrl: string;
  /** socket.io URL (its path is the server's prefix, as in `apiUrl`). @default apiUrl */
  readonly wsUrl?: string;
  /** Bearer key for REST and the socket handshake; omit when the server requires none. Never ship one to a browser. */
  readonly apiKey?: string;
  /** A browser token (`POST /auth/tokens`), used as the key is. */
  readonly token?: string;
  /**
   * Gets the next browser token (see `TokenSourceOptions.getToken`): called
   * before the current one expires and when the server refuses it, for REST
   * and for socket (re)connections alike.
   */
  readonly getToken?: () => Promise<TokenAnswer>;
  /** How long before a token's expiry `getToken` is called. @default 30_000 */
  readonly tokenRefreshMarginMs?: number;
  /** Logs socket activity through `console.debug`. @default false */
  readonly debug?: boolean;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Reconnection and socket.io tuning. */
  readonly socket?: Omit<
    SocketConnectionOptions,
    "wsUrl" | "apiKey" | "token" | "getToken" | "tokenRefreshMarginMs" | "tokenSource" | "log"
  >;
  /** Most events `eventLog` keeps; 0 records none. @default 500 */
  readonly eventLogLimit?: number;
}

/** A session kept live by `openSession`. */
export interface OpenSession {
  readonly store: SessionStore;
  /** Settles when the session's data is loaded (rejects with an `AgentRuntimeError` when it could not be). */
  readonly ready: Promise<SessionSnapshot>;
  /** Ends this opening; the session stops receiving events when no opening is left. Idempotent. */
  release(): void;
}

/**
 * The framework-agnostic client: REST calls, one socket connection, and one
 * `SessionStore` per session id. Sessions are opened with reference
 * counting: the first `openSession` loads the data (`GET /sessions/:id`) and
 * joins with `afterSeq = lastSeq`; the last `release` leaves. A store keeps
 * its data after release, so reopening resumes from its `lastSeq` without a
 * refetch.
 */
export class AgentRuntimeClient {
  readonly rest: RestClient;
  readonly connection: SocketConnection;
  readonly sessionList: SessionListStore;
  /** Every socket event received, for debugging; records once something subscribes to it. */
  readonly eventLog: EventLog;
  private readonly files: FileContentCache;
  private readonly stores = new Map<string, SessionStore>();
  private readonly openCounts = new Map<string, number>();
  private readonly loads = new Map<string, Promise<SessionSnapshot>>();
  /** Running `loadOlderBlocks` requests, by session. */
  private readonly olderLoads = new Map<string, Promise<boolean>>();
  private architectureList: Promise<readonly ArchitectureInfo[]> | undefined;

  constructor(options: AgentRuntimeClientOptions) {
    const log = options.debug
      ? (message: string, details?: unknown) => console.debug(`[agent-runtime] ${message}`, details ?? "")
      : undefined;
    const tokenSource = new TokenSource({
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      ...(options.token ? { token: options.token } : {}),
      ...(options.getToken ? { getToken: options.getToken } : {}),
      ...(options.tokenRefreshMarginMs === undefined
        ? {}
        : { tokenRefreshMarginMs: options.tokenRefreshMarginMs }),
    });
    this.rest = new RestClient({
      apiUrl: options.apiUrl,
      tokenSource,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.connection = new SocketConnection({
      ...options.socket,
      wsUrl: options.wsUrl ?? options.apiUrl,
      tokenSource,
      ...(log ? { log } : {}),
    });
    this.sessionList = new SessionListStore(this.rest, this.connection);
    this.eventLog = new EventLog({ limit: options.eventLogLimit });
    this.connection.socket.onAny((name: string, payload: unknown) => this.eventLog.record(name, payload));
    this.files = new FileContentCache((sessionId, path) => this.rest.readFile(sessionId, path));
  }

  /** The store of a session (created empty on first use; no I/O). */
  session(sessionId: string): SessionStore {
    let store = this.stores.get(sessionId);
    if (!store) {
      store = new SessionStore(sessionId);
      this.stores.set(sessionId, store);
    }
    return store;
  }

  /** Keeps a session loaded and live until `release()`; see the class comment. */
  openSession(sessionId: string): OpenSession {
    const store = this.session(sessionId);
    const count = (this.openCounts.get(sessionId) ?? 0) + 1;
    this.openCounts.set(sessionId, count);
    let ready: Promise<SessionSnapshot>;
    if (store.getSnapshot().loadState === "ready" && !this.loads.has(sessionId)) {
      if (count === 1) this.join(store);
      ready = Promise.resolve(store.getSnapshot());
    } else {
      ready = this.load(store);
    }
    let released = false;
    return {
      store,
      ready,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.openCounts.get(sessionId) ?? 1) - 1;
        if (left > 0) {
          this.openCounts.set(sessionId, left);
          return;
        }
        this.openCounts.delete(sessionId);
        this.connection.leave(sessionId);
      },
    };
  }

  /**
   * Refetches the session over REST and replaces its state; an open session
   * then resumes its event stream from the fetched `lastSeq`.
   */
  syncSession(sessionId: string): Promise<SessionSnapshot> {
    return this.load(this.session(sessionId), true);
  }

  /**
   * The server's agent architectures and their capabilities
   * (`GET /agent-architectures`), fetched once and shared by every caller;
   * a failed fetch is not kept, so the next call asks again.
   */
  architectures(): Promise<readonly ArchitectureInfo[]> {
    if (!this.architectureList) {
      const list = this.rest.listArchitectures();
      this.architectureList = list;
      list.catch(() => {
        if (this.architectureList === list) this.architectureList = undefined;
      });
    }
    return this.architectureList;
  }

  async createSession(request: CreateSessionRequest): Promise<SessionSummary> {
    const session = await this.rest.createSession(request);
    this.sessionList.put(session);
    return session;
  }

  /** Destroys the session on the server and stops following it. */
  async destroySession(sessionId: string): Promise<void> {
    await this.rest.destroySession(sessionId);
    this.openCounts.delete(sessionId);
    this.connection.leave(sessionId);
    this.sessionList.remove(sessionId);
    this.files.dropSession(sessionId);
  }

  /**
   * A workspace file's content as UTF-8 text, cached: read once per version
   * of the file in the session's file index (`modifiedAt`, `size`), so it is
   * read again once the store learns the file changed. A file missing from
   * the index (not tracked) is read every time. Rejects as `rest.readFile`.
   */
  getFile(sessionId: string, path: string): Promise<string> {
    const file = this.session(sessionId)
      .getSnapshot()
      .files.find((f) => f.path === path);
    return this.files.get(sessionId, path, file ? `${file.modifiedAt}|${file.size}` : undefined);
  }

  /** Sends a user message (with `attachments`, as `rest.sendMessage`); a queued one shows in the store's `queuedMessages` until its turn starts. */
  async sendMessage(
    sessionId: string,
    content: string,
    attachments?: readonly MessageAttachment[],
  ): Promise<SendMessageResponse> {
    const response = await this.rest.sendMessage(sessionId, content, attachments);
    this.session(sessionId).trackSentMessage(content, response);
    return response;
  }

  /** Stops the running turn; false when none was running. */
  async interrupt(sessionId: string): Promise<boolean> {
    return (await this.rest.interrupt(sessionId)).interrupted;
  }

  async respondToPermission(
    sessionId: string,
    requestId: string,
    decision: PermissionDecision,
    options: { always?: boolean } = {},
  ): Promise<void> {
    await this.rest.answerPermission(sessionId, requestId, { decision, ...options });
  }

  /**
   * Loads the page of main-conversation blocks before the first loaded one
   * into the store (`limit` blocks, the server's default page when absent).
   * Does nothing when no older blocks exist; concurrent calls for a session
   * share one request. Resolves with whether older blocks remain.
   */
  loadOlderBlocks(sessionId: string, limit?: number): Promise<boolean> {
    const running = this.olderLoads.get(sessionId);
    if (running) return running;
    const store = this.session(sessionId);
    const { blocks, hasOlderBlocks } = store.getSnapshot();
    const first = blocks[0];
    if (!hasOlderBlocks || first === undefined) return Promise.resolve(hasOlderBlocks);
    const load = this.rest
      .getSessionBlocks(sessionId, { before: first.id, ...(limit === undefined ? {} : { limit }) })
      .then((page) => {
        store.prependOlderBlocks(first.id, page);
        return store.getSnapshot().hasOlderBlocks;
      })
      .finally(() => this.olderLoads.delete(sessionId));
    this.olderLoads.set(sessionId, load);
    return load;
  }

  /** Fetches a subagent's transcript into the store (blocks the store already holds win). */
  async loadSubagentBlocks(sessionId: string, subagentId: string): Promise<readonly Block[]> {
    const blocks = await this.rest.getSubagentBlocks(sessionId, subagentId);
    const store = this.session(sessionId);
    store.mergeSubagentBlocks(subagentId, blocks);
    return store.getSnapshot().subagentBlocks[subagentId] ?? [];
  }

  /** Changes the session's options from the next turn (`null` removes one); see `RestClient.updateSessionOptions`. */
  updateSessionOptions(sessionId: string, options: SessionOptionsPatch): Promise<SessionOptions> {
    return this.rest.updateSessionOptions(sessionId, options);
  }

  /** Unloads the session, keeping everything; the next message brings it back. */
  stopSession(sessionId: string): Promise<void> {
    return this.rest.stopSession(sessionId);
  }

  /**
   * Has the server store what the session holds now (`POST /sessions/:id/sync`);
   * resolves once the write is durable. (`syncSession` refetches the session instead.)
   */
  saveSession(sessionId: string): Promise<{ syncedAt: string }> {
    return this.rest.syncSession(sessionId);
  }

  /** Closes the socket and ends every opening; stores keep their state, and a later `openSession` reconnects. */
  close(): void {
    this.openCounts.clear();
    this.connection.close();
  }

  private load(store: SessionStore, force = false): Promise<SessionSnapshot> {
    const { sessionId } = store;
    const running = this.loads.get(sessionId);
    if (running && !force) return running;
    const load = this.fetchInto(store).finally(() => {
      if (this.loads.get(sessionId) === load) this.loads.delete(sessionId);
    });
    this.loads.set(sessionId, load);
    return load;
  }

  private async fetchInto(store: SessionStore): Promise<SessionSnapshot> {
    store.markLoading();
    try {
      store.replace(await this.rest.getSession(store.sessionId));
    } catch (error) {
      const failure = AgentRuntimeError.is(error)
        ? error
        : new AgentRuntimeError("INVALID_RESPONSE", String(error), { cause: error });
      store.markFailed(failure);
      throw failure;
    }
    if (this.openCounts.has(store.sessionId)) this.join(store);
    return store.getSnapshot();
  }

  private join(store: SessionStore): void {
    this.connection.join(store.sessionId, {
      cursor: () => store.getSnapshot().lastSeq,
      onEvent: (event) => store.receive(event),
      onSnapshot: (data) => store.replace(data),
      onJoinFailed: (error) => store.markFailed(error),
    });
  }
}
