import type { ErrorCode } from "@agent-runtime/protocol";
import { type ApiKeyChecker, type Caller, callerTenant } from "./api-keys.js";
import { APPLICATION_KEY_PREFIX, looksLikeJwt, type TokenAuthority } from "./auth-tokens.js";

/** What a presented credential resolved to: its caller, or the refusal to answer. */
export type Resolution =
  | { readonly ok: true; readonly caller: Caller }
  | {
      readonly ok: false;
      readonly code: Extract<ErrorCode, "UNAUTHORIZED" | "TOKEN_EXPIRED">;
      readonly message: string;
    };

/** Why a long-lived connection (socket, SSE stream) stops: its credential expired or was revoked. */
export interface Revocation {
  readonly code: Extract<ErrorCode, "UNAUTHORIZED" | "TOKEN_EXPIRED">;
  readonly message: string;
}

/** Longest `setTimeout` delay Node takes (about 24.8 days); a later expiry is checked again then. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Every credential the transports accept, in one place: API keys first
 * (`ApiKeyChecker`), then browser tokens (`TokenAuthority`). A token minted
 * by a key (`POST /auth/tokens`) is valid while that key is accepted for
 * the token's tenant: removing the key in a rotation ends its tokens too.
 * Tokens an application signs itself depend on no key.
 *
 * A server without keys accepts every caller as an admin; a token presented
 * to it still narrows the caller to the token's scope, and one that does
 * not verify is refused, so a browser never silently gains more than its
 * token gives.
 */
export class Credentials {
  constructor(
    readonly keys: ApiKeyChecker,
    readonly tokens: TokenAuthority,
  ) {}

  /** The caller `presented` (a bearer key or token) identifies. */
  async resolve(presented: string | undefined): Promise<Resolution> {
    const keyCaller = this.keys.resolve(presented);
    const isToken = presented !== undefined && looksLikeJwt(presented);
    if (keyCaller && (this.keys.required || !isToken)) return { ok: true, caller: keyCaller };
    if (!isToken) return UNAUTHORIZED;
    const verdict = await this.tokens.verify(presented);
    if (!verdict.ok) {
      return verdict.reason === "expired"
        ? { ok: false, code: "TOKEN_EXPIRED", message: "The token expired; get a new one and retry" }
        : UNAUTHORIZED;
    }
    if (!this.mintedByAcceptedKey(verdict.caller)) return UNAUTHORIZED;
    return { ok: true, caller: verdict.caller };
  }

  /**
   * Why `caller` is no longer accepted, or `undefined` while it is: its
   * token expired, or its key (a token's minting key) was removed or moved
   * to another tenant by a rotation.
   */
  revocation(caller: Caller, now = Date.now()): Revocation | undefined {
    if (caller.expiresAt !== undefined) {
      if (now >= caller.expiresAt)
        return { code: "TOKEN_EXPIRED", message: "The token of this connection expired" };
      return this.mintedByAcceptedKey(caller)
        ? undefined
        : {
            code: "UNAUTHORIZED",
            message: "The key that minted this connection's token is no longer accepted",
          };
    }
    return this.keys.stillAccepts(caller)
      ? undefined
      : { code: "UNAUTHORIZED", message: "The API key of this connection is no longer accepted" };
  }

  /**
   * Calls `onRevoked` once, when `caller` stops being accepted (see
   * `revocation`): at its token's expiry, or at the key rotation that
   * removes its key. Returns the stop of the watch; call it when the
   * connection ends.
   */
  watch(caller: Caller, onRevoked: (revocation: Revocation) => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const check = (): void => {
      if (done) return;
      const revocation = this.revocation(caller);
      if (!revocation) return;
      stop();
      onRevoked(revocation);
    };
    const armExpiry = (): void => {
      if (caller.expiresAt === undefined || done) return;
      timer = setTimeout(
        () => {
          check();
          armExpiry();
        },
        Math.min(Math.max(0, caller.expiresAt - Date.now()), MAX_TIMER_MS),
      );
      timer.unref();
    };
    const stopKeyWatch = this.keys.onReplace(check);
    const stop = (): void => {
      done = true;
      clearTimeout(timer);
      stopKeyWatch();
    };
    armExpiry();
    return stop;
  }

  /** True for a key's caller, an application's token, or a token whose minting key still grants its tenant. */
  private mintedByAcceptedKey(caller: Caller): boolean {
    if (caller.expiresAt === undefined || caller.keyId.startsWith(APPLICATION_KEY_PREFIX)) return true;
    if (!this.keys.required) return true;
    const minter = this.keys.keyCaller(caller.keyId);
    return minter !== undefined && (minter.role === "admin" || callerTenant(minter) === callerTenant(caller));
  }
}

const UNAUTHORIZED: Resolution = {
  ok: false,
  code: "UNAUTHORIZED",
  message: "A valid API key or token is required (Authorization: Bearer <key or token>)",
};
