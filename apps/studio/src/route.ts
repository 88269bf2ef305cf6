import { useCallback, useSyncExternalStore } from "react";
import { basePath } from "./base-path.js";

/**
 * The Studio's client-side routes: `/` (home) and `/s/<sessionId>` (served
 * by the server's SPA fallback), below the prefix it is served under (see
 * `basePath`); `parseRoute` and `routePath` work on paths below it.
 */
export type Route = { readonly view: "home" } | { readonly view: "session"; readonly sessionId: string };

const SESSION_PATH = /^\/s\/([^/]+)\/?$/;

export function parseRoute(pathname: string): Route {
  const match = SESSION_PATH.exec(pathname);
  return match?.[1] ? { view: "session", sessionId: decodeURIComponent(match[1]) } : { view: "home" };
}

export function routePath(route: Route): string {
  return route.view === "session" ? `/s/${encodeURIComponent(route.sessionId)}` : "/";
}

const listeners = new Set<() => void>();
function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("popstate", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", listener);
  };
}
/** The address bar's path below the prefix (`/api/s/x` → `/s/x`). */
const currentPath = () => {
  const { pathname } = window.location;
  return pathname.startsWith(basePath) ? pathname.slice(basePath.length) || "/" : pathname;
};

/** The current route and `navigate` (pushes a history entry; the back button works). */
export function useRoute(): [Route, (route: Route) => void] {
  const pathname = useSyncExternalStore(subscribe, currentPath);
  const navigate = useCallback((route: Route) => {
    const path = `${basePath}${routePath(route)}`;
    if (path !== window.location.pathname) window.history.pushState(null, "", path);
    for (const listener of listeners) listener();
  }, []);
  return [parseRoute(pathname), navigate];
}
