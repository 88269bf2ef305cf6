import { canonicalJson } from "./normalize-request.js";
import type { CassetteEntry, CassetteRequest } from "./schema.js";

/** How a request found its entry. */
export type MatchKind = "exact" | "repeat" | "fallback";

export type MatchResult =
  | { entry: CassetteEntry /** 1-based position in the cassette. */; position: number; kind: MatchKind }
  | { entry: undefined; status: 404 | 409; reason: string };

/**
 * Picks the cassette entry that answers a request; each entry is used once
 * where possible. In order:
 * 1. `exact`: the first unused entry whose normalised request equals this one;
 * 2. `repeat`: the most recently used such entry (a client retrying or
 *    polling gets the same answer again);
 * 3. `fallback`: the first unused entry with the same method, path, model and
 *    streaming flag (for prompts that differ between runs, e.g. a different
 *    date or directory).
 * Without any: 404 when the cassette has no entry for that method, path,
 * model and streaming flag, 409 when it has some but all are used.
 */
export class CassetteMatcher {
  readonly #keys: string[];
  readonly #used: boolean[];
  readonly #useOrder: number[];
  #uses = 0;

  constructor(private readonly entries: readonly CassetteEntry[]) {
    this.#keys = entries.map((entry) => canonicalJson(entry.request));
    this.#used = entries.map(() => false);
    this.#useOrder = entries.map(() => 0);
  }

  /** Finds the entry for `request` and marks it used. */
  take(request: CassetteRequest): MatchResult {
    const key = canonicalJson(request);
    const exact = this.#keys.flatMap((entryKey, index) => (entryKey === key ? [index] : []));
    const unusedExact = exact.find((index) => !this.#used[index]);
    if (unusedExact !== undefined) return this.#use(unusedExact, "exact");
    const latestUsed = exact.sort((a, b) => this.#useOrder[b]! - this.#useOrder[a]!)[0];
    if (latestUsed !== undefined) return this.#use(latestUsed, "repeat");

    const sameRoute = this.entries.flatMap((entry, index) =>
      entry.request.method === request.method &&
      entry.request.path === request.path &&
      entry.request.model === request.model &&
      entry.request.stream === request.stream
        ? [index]
        : [],
    );
    const next = sameRoute.find((index) => !this.#used[index]);
    if (next !== undefined) return this.#use(next, "fallback");
    const model = request.model ? ` (model ${request.model}${request.stream ? ", streaming" : ""})` : "";
    const route = `${request.method} ${request.path}${model}`;
    return sameRoute.length === 0
      ? { entry: undefined, status: 404, reason: `it has no entry for ${route}` }
      : {
          entry: undefined,
          status: 409,
          reason: `all ${sameRoute.length} entries for ${route} are used and none matches this request exactly`,
        };
  }

  #use(index: number, kind: MatchKind): MatchResult {
    this.#used[index] = true;
    this.#useOrder[index] = ++this.#uses;
    return { entry: this.entries[index]!, position: index + 1, kind };
  }
}
