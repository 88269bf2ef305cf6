import type {
  AgentProfile,
  AgentProfileSummary,
  ArchitectureInfo,
  Block,
  BlockPage,
  CreateSessionRequest,
  EventsResponse,
  HealthResponse,
  ListSessionsQuery,
  ListSessionsResponse,
  MessageAttachment,
  MintTokenRequest,
  MintTokenResponse,
  PermissionAnswerRequest,
  SendMessageResponse,
  SessionBlocksQuery,
  SessionData,
  SessionOptions,
  SessionOptionsPatch,
  SessionQuery,
  SessionSummary,
  UpdateSessionResponse,
  WorkspaceFile,
} from "@agent-runtime/protocol";
import { AgentRuntimeError } from "./agent-runtime-error.js";
import { TokenSource, type TokenSourceOptions } from "./token-source.js";

export type PermissionDecision = PermissionAnswerRequest["decision"];

/**
 * `apiKey`, `token` or `getToken` (see `TokenSourceOptions`) is sent as
 * `Authorization: Bearer <credential>`; with `getToken`, a request answered
 * `401` is sent once more with a fresh token.
 */
export interface RestClientOptions extends TokenSourceOptions {
  /** Base URL of the server, e.g. `http://localhost:3000` (a path prefix is kept). */
  readonly apiUrl: string;
  /** A credential shared with a socket connection; replaces `apiKey`, `token` and `getToken`. */
  readonly tokenSource?: TokenSource;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

interface RequestOptions {
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as they are (`application/octet-stream`). */
  readonly bytes?: Uint8Array;
  readonly query?: Record<string, string | number>;
  readonly raw?: boolean;
}

/**
 * Typed calls for every REST route of the wire contract (v1). Each method
 * resolves with the route's response body and rejects with an
 * `AgentRuntimeError`: the server's `{error: {code, message, requestId}}`
 * for non-2xx answers, `NETWORK_ERROR` when no answer came. Stateless; safe
 * to share.
 */
export class RestClient {
  private readonly baseUrl: string;
  private readonly tokens: TokenSource;
  private readonly fetchImpl: typeof fetch;

  constructor(options: RestClientOptions) {
    this.baseUrl = options.apiUrl.replace(/\/+$/, "");
    this.tokens = options.tokenSource ?? new TokenSource(options);
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  health(): Promise<HealthResponse> {
    return this.request("GET", "/health");
  }

  /** The agent architectures the server runs sessions with, and what each supports. */
  async listArchitectures(): Promise<ArchitectureInfo[]> {
    const path = "/agent-architectures";
    return (await this.request<{ architectures: ArchitectureInfo[] }>("GET", path)).architectures;
  }

  async listProfiles(): Promise<AgentProfileSummary[]> {
    return (await this.request<{ profiles: AgentProfileSummary[] }>("GET", "/agent-profiles")).profiles;
  }

  getProfile(profileId: string): Promise<AgentProfile> {
    return this.request("GET", `/agent-profiles/${enc(profileId)}`);
  }

  /**
   * Mints a browser token (`POST /auth/tokens`) with this client's key: for
   * an application's backend, which hands the token to its browser.
   */
  mintToken(request: MintTokenRequest = {}): Promise<MintTokenResponse> {
    return this.request("POST", "/auth/tokens", { body: request });
  }

  /** Creates a session; no sandbox starts until the first message. */
  createSession(request: CreateSessionRequest): Promise<SessionSummary> {
    return this.request("POST", "/sessions", { body: request });
  }

  /**
   * A page of the sessions, newest `updatedAt` first (the server's default
   * page size unless `limit` is given); pass its `nextCursor` as `cursor` for
   * the next page, until it is `null`.
   */
  listSessions(page: ListSessionsQuery = {}): Promise<ListSessionsResponse> {
    const query = {
      ...(page.limit === undefined ? {} : { limit: page.limit }),
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
    };
    return this.request("GET", "/sessions", { query });
  }

  /**
   * Metadata, runtime state, the newest main-conversation blocks (500 unless
   * `blocksLimit` says otherwise; `hasOlderBlocks` when there are more),
   * files and subagents, consistent with `lastSeq`.
   */
  getSession(sessionId: string, query: SessionQuery = {}): Promise<SessionData> {
    return this.request("GET", `/sessions/${enc(sessionId)}`, {
      query: query.blocksLimit === undefined ? {} : { blocksLimit: query.blocksLimit },
    });
  }

  /**
   * A page of the main conversation in start order: the blocks `before` or
   * `after` a block id, or from the first block (see `sessionBlocksQuerySchema`).
   */
  getSessionBlocks(sessionId: string, query: SessionBlocksQuery = {}): Promise<BlockPage> {
    const params = Object.fromEntries(
      Object.entries(query).filter((entry): entry is [string, string | number] => entry[1] !== undefined),
    );
    return this.request("GET", `/sessions/${enc(sessionId)}/blocks`, { query: params });
  }

  /** Syncs the session, terminates its sandbox and deletes it. */
  async destroySession(sessionId: string): Promise<void> {
    await this.request("DELETE", `/sessions/${enc(sessionId)}`);
  }

  /**
   * Sends a user message, with images and files when `attachments` is given
   * (see `messageAttachmentSchema` for the limits); `queued` is true when
   * another turn is running and this one waits.
   */
  sendMessage(
    sessionId: string,
    content: string,
    attachments?: readonly MessageAttachment[],
  ): Promise<SendMessageResponse> {
    const body = attachments?.length ? { content, attachments } : { content };
    return this.request("POST", `/sessions/${enc(sessionId)}/messages`, { body });
  }

  /** Stops the running turn; `interrupted` is false when none was running. */
  interrupt(sessionId: string): Promise<{ interrupted: boolean }> {
    return this.request("POST", `/sessions/${enc(sessionId)}/interrupt`);
  }

  /** Events after the cursor. Rejects with `CONFLICT` (409) when the server no longer holds them. */
  getEvents(sessionId: string, after = 0): Promise<EventsResponse> {
    return this.request("GET", `/sessions/${enc(sessionId)}/events`, { query: { after } });
  }

  async listFiles(sessionId: string): Promise<WorkspaceFile[]> {
    return (await this.request<{ files: WorkspaceFile[] }>("GET", `/sessions/${enc(sessionId)}/files`)).files;
  }

  /** A workspace file's bytes. */
  async readFileBytes(sessionId: string, path: string): Promise<Uint8Array> {
    const response = await this.request<Response>("GET", filePath(sessionId, path), { raw: true });
    return new Uint8Array(await response.arrayBuffer());
  }

  /** A workspace file decoded as UTF-8. */
  async readFile(sessionId: string, path: string): Promise<string> {
    return new TextDecoder().decode(await this.readFileBytes(sessionId, path));
  }

  /**
   * The whole workspace as `.tar.gz` bytes (entries named by workspace-relative
   * path). Rejects with `NETWORK_ERROR` when the transfer breaks off: the
   * server aborts the response rather than end a partial archive cleanly.
   */
  async downloadWorkspace(sessionId: string): Promise<Uint8Array> {
    const path = `/sessions/${enc(sessionId)}/workspace`;
    const response = await this.request<Response>("GET", path, { raw: true });
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (cause) {
      throw new AgentRuntimeError("NETWORK_ERROR", `GET ${path} broke off: ${messageOf(cause)}`, { cause });
    }
  }

  /** Writes a workspace file (into the live sandbox, or into storage while none runs). */
  async writeFile(sessionId: string, path: string, content: string): Promise<void> {
    await this.request("PUT", filePath(sessionId, path), { body: { content } });
  }

  /**
   * Writes a workspace file byte for byte (any content, binary included).
   * Rejects with `PAYLOAD_TOO_LARGE` (413) over the server's raw write limit.
   */
  async writeFileBytes(sessionId: string, path: string, bytes: Uint8Array): Promise<void> {
    await this.request("PUT", filePath(sessionId, path), { bytes });
  }

  async deleteFile(sessionId: string, path: string): Promise<void> {
    await this.request("DELETE", filePath(sessionId, path));
  }

  /** The blocks of one subagent's run, in start order (completed and in flight). */
  async getSubagentBlocks(sessionId: string, subagentId: string): Promise<Block[]> {
    const path = `/sessions/${enc(sessionId)}/subagents/${enc(subagentId)}`;
    return (await this.request<{ blocks: Block[] }>("GET", path)).blocks;
  }

  /** Answers an open tool-permission request. Rejects with `PERMISSION_REQUEST_NOT_FOUND` once it is closed. */
  answerPermission(
    sessionId: string,
    requestId: string,
    answer: PermissionAnswerRequest,
  ): Promise<{ requestId: string; decision: PermissionDecision }> {
    return this.request("POST", `/sessions/${enc(sessionId)}/permissions/${enc(requestId)}`, {
      body: answer,
    });
  }

  /**
   * Changes the session's options (`PATCH /sessions/:id`): each field given
   * replaces the session's, `null` removes it; applied from the next turn.
   * Resolves to the options after the change.
   */
  async updateSessionOptions(sessionId: string, options: SessionOptionsPatch): Promise<SessionOptions> {
    const answer = await this.request<UpdateSessionResponse>("PATCH", `/sessions/${enc(sessionId)}`, {
      body: { sessionOptions: options },
    });
    return answer.sessionOptions;
  }

  /** Unloads the session (`POST /sessions/:id/stop`): its sandbox goes, everything is kept; the next message brings it back. */
  async stopSession(sessionId: string): Promise<void> {
    await this.request("POST", `/sessions/${enc(sessionId)}/stop`);
  }

  /** Stores what the session holds now (`POST /sessions/:id/sync`); resolves once the write is durable. */
  async syncSession(sessionId: string): Promise<{ syncedAt: string }> {
    return this.request("POST", `/sessions/${enc(sessionId)}/sync`);
  }

  private async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: "application/json" };
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.body);
    } else if (options.bytes !== undefined) {
      headers["content-type"] = "application/octet-stream";
      // A view typed over any ArrayBufferLike; fetch takes it as bytes.
      init.body = options.bytes as Uint8Array<ArrayBuffer>;
    }

    const send = async (credential: string | undefined): Promise<Response> => {
      if (credential) headers.authorization = `Bearer ${credential}`;
      try {
        return await this.fetchImpl(url, init);
      } catch (cause) {
        throw new AgentRuntimeError("NETWORK_ERROR", `${method} ${path} failed: ${messageOf(cause)}`, {
          cause,
        });
      }
    };
    let response = await send(await this.credential(() => this.tokens.current()));
    if (response.status === 401 && this.tokens.refreshable) {
      await response.body?.cancel();
      response = await send(await this.credential(() => this.tokens.refresh()));
    }
    if (!response.ok) throw AgentRuntimeError.fromResponse(response.status, await readJson(response));
    if (options.raw) return response as T;
    if (response.status === 204) return undefined as T;
    const body = await readJson(response);
    if (body === undefined) {
      throw new AgentRuntimeError("INVALID_RESPONSE", `${method} ${path} answered without a JSON body`, {
        status: response.status,
      });
    }
    return body as T;
  }

  /** The credential `get` yields; a failing `getToken` fails the request `UNAUTHORIZED`. */
  private async credential(get: () => Promise<string | undefined>): Promise<string | undefined> {
    try {
      return await get();
    } catch (cause) {
      throw new AgentRuntimeError("UNAUTHORIZED", `getToken failed: ${messageOf(cause)}`, { cause });
    }
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function filePath(sessionId: string, path: string): string {
  return `/sessions/${enc(sessionId)}/files/${path.split("/").map(enc).join("/")}`;
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => "");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
