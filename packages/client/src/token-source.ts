/**
 * What a `getToken` refresher answers: a token, or the answer of
 * `POST /auth/tokens` (`{token, expiresAt}`). For a bare token the expiry
 * is read from its `exp` claim when it is a JWT.
 */
export type TokenAnswer = string | { readonly token: string; readonly expiresAt?: string };

/** How a client authenticates: at most one of an API key, a fixed token or a refresher. */
export interface TokenSourceOptions {
  /** An API key (servers and scripts; never ship one to a browser). */
  readonly apiKey?: string;
  /** A browser token (from `POST /auth/tokens`, minted by the application's backend). */
  readonly token?: string;
  /**
   * Gets a fresh token. Called on first use, again when the current token is
   * within `tokenRefreshMarginMs` of its expiry, and when the server refuses
   * it (`401`, or a socket handshake refused `UNAUTHORIZED`/`TOKEN_EXPIRED`).
   * Concurrent needs share one call. A rejection fails the request that
   * needed the token (REST: `UNAUTHORIZED`).
   */
  readonly getToken?: () => Promise<TokenAnswer>;
  /** How long before a token's expiry `getToken` is called for the next one. @default 30_000 */
  readonly tokenRefreshMarginMs?: number;
}

/**
 * The bearer credential of a client's REST calls and socket handshakes,
 * shared by both so one refresh serves them. Without `getToken` it is
 * fixed (`apiKey` or `token`).
 */
export class TokenSource {
  private currentToken: string | undefined;
  private expiresAt: number | undefined;
  private pending: Promise<string> | undefined;
  private readonly marginMs: number;

  constructor(private readonly options: TokenSourceOptions) {
    this.currentToken = options.token ?? options.apiKey;
    this.expiresAt = options.token === undefined ? undefined : expiryOf(options.token);
    this.marginMs = options.tokenRefreshMarginMs ?? 30_000;
  }

  /** True when a refusal is worth a retry: a refresher can give another token. */
  get refreshable(): boolean {
    return this.options.getToken !== undefined;
  }

  /** The credential to send now (`undefined`: none), asking `getToken` for a new one when it is due. */
  async current(): Promise<string | undefined> {
    if (!this.options.getToken) return this.currentToken;
    const due =
      this.currentToken === undefined ||
      (this.expiresAt !== undefined && Date.now() >= this.expiresAt - this.marginMs);
    return due ? this.refresh() : this.currentToken;
  }

  /** Asks `getToken` for a new token now (after a refusal); concurrent calls share one. */
  refresh(): Promise<string> {
    const getToken = this.options.getToken;
    if (!getToken) return Promise.resolve(this.currentToken ?? "");
    this.pending ??= getToken()
      .then((answer) => {
        const token = typeof answer === "string" ? answer : answer.token;
        const expiresAt =
          typeof answer === "string" || answer.expiresAt === undefined
            ? expiryOf(token)
            : Date.parse(answer.expiresAt);
        this.currentToken = token;
        this.expiresAt = Number.isFinite(expiresAt) ? expiresAt : undefined;
        return token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

/** The `exp` claim of a JWT in ms (read, not verified: the server verifies), or `undefined`. */
function expiryOf(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="))) as {
      exp?: unknown;
    };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
