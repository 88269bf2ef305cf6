import type { TracerProvider } from "@opentelemetry/api";
import { VERSION } from "../version.js";

/** A tracer provider the server exports its traces through, and its shutdown (flushes what is buffered). */
export interface EnvTracing {
  readonly tracerProvider: TracerProvider;
  shutdown(): Promise<void>;
}

const truthy = (value: string | undefined) => value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());

/**
 * Tracing as the standard OpenTelemetry environment variables ask for it,
 * or `undefined` (off, at no cost) when they do not. On when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
 * set, or `OTEL_TRACES_EXPORTER` is `otlp`; off whatever else is set when
 * `OTEL_SDK_DISABLED` is true or `OTEL_TRACES_EXPORTER` is `none`. The
 * OTLP/HTTP exporter reads its own variables (endpoint, protocol, headers,
 * timeout, compression) and the resource detector `OTEL_SERVICE_NAME` and
 * `OTEL_RESOURCE_ATTRIBUTES` (default service name `agent-runtime`) from
 * `process.env`, so pass `process.env`; `OTEL_TRACES_SAMPLER` samples.
 * Registers the provider globally (with the W3C `traceparent` propagator),
 * so incoming `traceparent` headers continue callers' traces: call it once
 * per process, at the edge (the CLI). The OpenTelemetry SDK is loaded only
 * when tracing is on.
 */
export async function tracingFromEnv(env: NodeJS.ProcessEnv): Promise<EnvTracing | undefined> {
  if (truthy(env.OTEL_SDK_DISABLED)) return undefined;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "").split(",").map((name) => name.trim());
  if (exporters.includes("none")) return undefined;
  const wanted =
    exporters.includes("otlp") ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) ||
    Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
  if (!wanted) return undefined;
  const [{ OTLPTraceExporter }, resources, { BatchSpanProcessor, NodeTracerProvider }, semconv] =
    await Promise.all([
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/sdk-trace-node"),
      import("@opentelemetry/semantic-conventions"),
    ]);
  const { defaultResource, detectResources, envDetector, resourceFromAttributes } = resources;
  const { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } = semconv;
  const tracerProvider = new NodeTracerProvider({
    // The environment's attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) win over the defaults.
    resource: defaultResource()
      .merge(
        resourceFromAttributes({ [ATTR_SERVICE_NAME]: "agent-runtime", [ATTR_SERVICE_VERSION]: VERSION }),
      )
      .merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  tracerProvider.register();
  return { tracerProvider, shutdown: () => tracerProvider.shutdown() };
}
