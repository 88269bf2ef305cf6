import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { context, propagation, trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { tracingFromEnv } from "./tracing-from-env.js";

/** The OTEL_* variables these tests set (the exporter and resource detector read `process.env`). */
const VARIABLES = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_PROTOCOL"];

describe("tracingFromEnv", () => {
  const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  afterEach(() => {
    for (const name of VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    // The provider registers itself globally: undo it for the next tests of this worker.
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it("is off without OTEL_* variables that ask for traces, and when they turn it off", async () => {
    expect(await tracingFromEnv({})).toBeUndefined();
    expect(await tracingFromEnv({ OTEL_SERVICE_NAME: "x" })).toBeUndefined();
    const endpoint = "http://127.0.0.1:4318";
    expect(
      await tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: "true" }),
    ).toBeUndefined();
    expect(
      await tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: "none" }),
    ).toBeUndefined();
  });

  it("exports spans over OTLP/HTTP to the endpoint the variables name, as OTEL_SERVICE_NAME", async () => {
    const received: { path: string; body: string }[] = [];
    const collector = createServer((request, response) => {
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => {
        body += chunk;
      });
      request.on("end", () => {
        received.push({ path: request.url ?? "", body });
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
      process.env.OTEL_EXPORTER_OTLP_PROTOCOL = "http/json";
      process.env.OTEL_SERVICE_NAME = "runtime-under-test";
      const tracing = await tracingFromEnv(process.env);
      expect(tracing).toBeDefined();
      tracing!.tracerProvider.getTracer("test").startSpan("probe-span").end();
      await tracing!.shutdown();
      expect(received.map((r) => r.path)).toEqual(["/v1/traces"]);
      expect(received[0]!.body).toContain("probe-span");
      expect(received[0]!.body).toContain("runtime-under-test");
    } finally {
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  });
});
