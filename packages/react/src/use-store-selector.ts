import { useRef, useSyncExternalStore } from "react";

/** Anything with the external-store shape of the client's stores. */
export interface ExternalStore<S> {
  getSnapshot(): S;
  subscribe(listener: () => void): () => void;
}

interface Selection<S, T> {
  readonly snapshot: S;
  readonly selector: (snapshot: S) => T;
  readonly selected: T;
}

/**
 * Reads `selector(store.getSnapshot())` through `useSyncExternalStore` and
 * re-renders only when the selected value changes by `isEqual` (default
 * `Object.is`). While it stays equal the previous value is returned, so
 * derived arrays can be compared shallowly (see `shallowEqualArrays`).
 * `store.subscribe` must be a stable function.
 */
export function useStoreSelector<S, T>(
  store: ExternalStore<S>,
  selector: (snapshot: S) => T,
  isEqual: (a: T, b: T) => boolean = Object.is,
): T {
  const last = useRef<Selection<S, T> | null>(null);
  const read = (): T => {
    const snapshot = store.getSnapshot();
    const previous = last.current;
    if (previous && previous.snapshot === snapshot && previous.selector === selector)
      return previous.selected;
    const next = selector(snapshot);
    const selected = previous && isEqual(previous.selected, next) ? previous.selected : next;
    last.current = { snapshot, selector, selected };
    return selected;
  };
  return useSyncExternalStore(store.subscribe, read, read);
}

export function shallowEqualArrays<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => Object.is(item, b[i]));
}
