/**
 * The server the hostile suite attacks, in its own process (see
 * `startHostileTarget`), so that its memory and its `/health` latency are
 * its own: a real server (SQLite, bubblewrap sandboxes, the real Claude Code
 * against the mock model) with REST rate limiting off, so that the fuzzer's
 * requests reach the routes. Prints `{"url": …, "dataDir": …}` on one line once it
 * listens; stops on SIGTERM.
 */
import { startTestServer } from "../support/test-server.js";
import { oddEntriesScript } from "./odd-entries.js";

const server = await startTestServer({ script: oddEntriesScript, server: { rateLimit: false } });
process.stdout.write(`${JSON.stringify({ url: server.url, dataDir: server.dataDir })}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void server.dispose().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
