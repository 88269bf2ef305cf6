import { defineConfig } from "vite";

/**
 * Production build to `dist/`, served by `agent-runtime serve` at `/` (or
 * under its `--base-path`).
 * JSX uses esbuild's automatic runtime (no Fast Refresh in dev).
 * Workspace packages resolve to their built `dist/` (the root build runs
 * `tsc -b` first). `npm run dev -w @agent-runtime/studio` proxies the API to
 * a server on :3000.
 */
const api = "http://127.0.0.1:3000";
export default defineConfig({
  // Relative URLs, resolved against the page's <base href>, which the server sets to the prefix it serves under.
  base: "./",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      // zod's sources carry comments Rollup reports and ignores; they are not ours to fix.
      onwarn(warning, warn) {
        if (warning.code !== "INVALID_ANNOTATION") warn(warning);
      },
    },
  },
  server: {
    proxy: {
      "/health": api,
      "/agent-architectures": api,
      "/agent-profiles": api,
      "/sessions": api,
      "/socket.io": { target: api, ws: true },
    },
  },
});
