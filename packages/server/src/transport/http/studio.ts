import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { sendError } from "./error-handler.js";

/**
 * The Studio's production build inside this monorepo (`apps/studio/dist`),
 * found relative to this module in both `src/` and `dist/`.
 */
export function defaultStudioDir(): string {
  return fileURLToPath(new URL("../../../../../apps/studio/dist/", import.meta.url));
}

/** Client-side routes of the Studio (`/s/<sessionId>`): answered with `index.html` for browsers. */
const STUDIO_ROUTE_PREFIX = "/s/";

export interface StudioPublicPaths {
  /** Exact paths: `/` and every file at the build's top level (`/index.html`, `/favicon.svg`, …). */
  readonly paths: readonly string[];
  /** `/assets/` (hashed bundles) and the Studio's client-side routes. */
  readonly prefixes: readonly string[];
}

/** True when `distDir` holds a Studio build (an `index.html`). */
export function hasStudioBuild(distDir: string): boolean {
  return existsSync(join(distDir, "index.html"));
}

/**
 * What the Studio serves without an API key: its static files and its
 * client-side routes, never an API path (the Studio asks for the key itself).
 * Reads the build folder once; call after the build exists.
 */
export function studioPublicPaths(distDir: string): StudioPublicPaths {
  const topLevelFiles = readdirSync(distDir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => `/${entry.name}`);
  return { paths: ["/", ...topLevelFiles], prefixes: ["/assets/", STUDIO_ROUTE_PREFIX] };
}

/**
 * The Studio's page for a server under `basePath` (`""` or a normalized
 * prefix): its `<base href>` names the prefix, against which the build's
 * relative asset URLs and the Studio's API, socket and route URLs resolve.
 * A page without a `<base>` (a build of another Studio) gets one.
 */
export function studioPage(indexHtml: string, basePath: string): string {
  const base = `<base href="${basePath}/">`;
  return /<base\s[^>]*>/i.test(indexHtml)
    ? indexHtml.replace(/<base\s[^>]*>/i, base)
    : indexHtml.replace(/<head(\s[^>]*)?>/i, (head) => `${head}\n    ${base}`);
}

/**
 * Serves the Studio build at `/` (under the server's `basePath`, whose
 * prefix the page names as its base): every file of `distDir` as it was
 * when the plugin registered (hashed `/assets/*` cached for a year, the rest
 * revalidated), and the page for `/`, `/index.html` and, when the client
 * accepts HTML, `GET /s/*` (the SPA fallback). Everything else falls
 * through to the API's JSON 404. Register after the API routes; the caller
 * makes the paths of `studioPublicPaths` public.
 */
export const studioRoutes: FastifyPluginAsync<{ distDir: string; basePath: string }> = async (
  app,
  { distDir, basePath },
) => {
  const page = studioPage(readFileSync(join(distDir, "index.html"), "utf8"), basePath);
  const sendPage = (reply: FastifyReply) =>
    reply.header("cache-control", "no-cache").type("text/html; charset=utf-8").send(page);
  await app.register(fastifyStatic, {
    root: distDir,
    prefix: "/",
    wildcard: false,
    // The page is served from memory, with its base.
    index: false,
    globIgnore: ["index.html"],
    cacheControl: false,
    setHeaders(reply, path) {
      const hashed = path.startsWith(join(distDir, "assets"));
      reply.header("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
  app.get("/", { schema: { hide: true } }, (_request, reply) => sendPage(reply));
  app.get("/index.html", { schema: { hide: true } }, (_request, reply) => sendPage(reply));
  app.get(`${STUDIO_ROUTE_PREFIX}*`, { schema: { hide: true } }, (request, reply) => {
    if (!request.headers.accept?.includes("text/html")) {
      return sendError(reply, request, "NOT_FOUND", `No route for GET ${request.originalUrl.split("?")[0]}`);
    }
    return sendPage(reply);
  });
};
