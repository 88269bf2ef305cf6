/** Where the Studio keeps the server's API key (this browser only). */
const STORAGE_KEY = "agent-runtime.apiKey";

/** The stored key, or undefined (also when storage is unavailable). */
export function loadApiKey(): string | undefined {
  try {
    return localStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Stores the key, or forgets it with `undefined`. Never throws. */
export function saveApiKey(key: string | undefined): void {
  try {
    if (key === undefined) localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Private mode or disabled storage: the key lives for this page only.
  }
}

/** Where the Studio keeps a browser token given in the address (this tab only: tokens are short-lived). */
const TOKEN_STORAGE_KEY = "agent-runtime.token";

/**
 * The browser token of this tab: one given as `?token=` in the address
 * (then removed from the address, so it stays out of history, bookmarks and
 * `Referer`, and kept in `sessionStorage`), else the one kept earlier.
 */
export function takeToken(): string | undefined {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("token");
  if (given) {
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", `${url.pathname}${url.search}${url.hash}`);
    try {
      sessionStorage.setItem(TOKEN_STORAGE_KEY, given);
    } catch {
      // Disabled storage: the token lives for this page only.
    }
    return given;
  }
  try {
    return sessionStorage.getItem(TOKEN_STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Forgets the tab's token. Never throws. */
export function forgetToken(): void {
  try {
    sessionStorage.removeItem(TOKEN_STORAGE_KEY);
  } catch {
    // Nothing kept.
  }
}
