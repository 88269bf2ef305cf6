import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RuntimeMetrics } from "./runtime-metrics.js";

export interface MetricsListener {
  /** The bound address, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A listener of its own for Prometheus (`--metrics-port`): `GET /metrics`
 * without a key, anything else 404. Bind it to an address only the
 * scraper reaches; the API's `/metrics` still asks for an admin key.
 */
export async function startMetricsListener(
  metrics: RuntimeMetrics,
  { port, host = "127.0.0.1" }: { port: number; host?: string },
): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(404, { "content-type": "text/plain" }).end("Not found: GET /metrics\n");
      return;
    }
    metrics.scrape().then(
      (text) => {
        response.writeHead(200, { "content-type": metrics.contentType });
        response.end(request.method === "HEAD" ? undefined : text);
      },
      () => {
        response.writeHead(500, { "content-type": "text/plain" }).end("Collecting the metrics failed\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
