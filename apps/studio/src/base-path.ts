/**
 * Where the Studio is served: the server names it in the page's `<base href>`
 * (`/` by default, `/api/` under `serve --base-path /api`). The API, the
 * socket and the Studio's own routes are under it.
 */
const base = new URL(".", document.baseURI);

/** The prefix without its trailing slash: `""` at the root, `/api` under a prefix. */
export const basePath = base.pathname.replace(/\/+$/, "");

/** The server's base URL for the client library (origin and prefix): the Studio talks to the server that served it. */
export const apiUrl = `${base.origin}${basePath}`;
