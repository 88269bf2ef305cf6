import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";
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
 * Serves the Studio build at `/`: every file of `distDir` as it was when the
 * plugin registered (hashed `/assets/*` cached for a year, the rest
 * revalidated), and `index.html` for `GET /s/*` when the client accepts HTML
 * (the SPA fallback). Everything else falls through to the API's JSON 404.
 * Register after the API routes; the caller makes the paths of
 * `studioPublicPaths` public.
 */
export const studioRoutes: FastifyPluginAsync<{ distDir: string }> = async (app, { distDir }) => {
  await app.register(fastifyStatic, {
    root: distDir,
    prefix: "/",
    wildcard: false,
    cacheControl: false,
    setHeaders(reply, path) {
      const hashed = path.startsWith(join(distDir, "assets"));
      reply.header("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
  app.get(`${STUDIO_ROUTE_PREFIX}*`, { schema: { hide: true } }, (request, reply) => {
    if (!request.headers.accept?.includes("text/html")) {
      return sendError(reply, request, "NOT_FOUND", `No route for GET ${request.url.split("?")[0]}`);
    }
    return reply.header("cache-control", "no-cache").sendFile("index.html");
  });
};
