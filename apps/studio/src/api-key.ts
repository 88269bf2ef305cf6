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
