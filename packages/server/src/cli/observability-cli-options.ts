import { InvalidArgumentError, Option } from "commander";

/*
 * Observability as `serve` options and environment variables: the separate
 * metrics listener, per-tenant metric labels and the audit trail's retention. Tracing needs no option: it
 * follows the standard OTEL_* variables (see `tracingFromEnv`).
 */

/** What `serve` makes of `observabilityCliOptions()`. */
export interface ObservabilityServeOptions {
  /** Serve `GET /metrics` without a key on this port too (bind it where only the scraper reaches). */
  readonly metricsPort?: number;
  /** Address of the metrics listener. @default the server's `--host` */
  readonly metricsHost?: string;
  /** Tenants with a `tenant` label of their own on per-tenant metrics (see `MetricsOptions.tenantLabels`). */
  readonly metricsTenantLabels?: readonly string[];
  /** Stored audit records older than this many days are deleted; 0 keeps every record. @default 90 */
  readonly auditRetentionDays?: number;
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65_535)
    throw new InvalidArgumentError("Not a port (1-65535).");
  return parsed;
}

function days(value: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed < 0)
    throw new InvalidArgumentError("Not a number of days (0 or more; 0 keeps every record).");
  return parsed;
}

/** The options, each with its environment variable. */
export function observabilityCliOptions(): Option[] {
  return [
    new Option(
      "--metrics-port <port>",
      "also serve Prometheus metrics at GET /metrics on this port, without a key (default: only on the API, admin key required)",
    )
      .env("AGENT_RUNTIME_METRICS_PORT")
      .argParser(port),
    new Option("--metrics-host <host>", "address the metrics listener binds (default: --host)").env(
      "AGENT_RUNTIME_METRICS_HOST",
    ),
    new Option(
      "--metrics-tenant-labels <tenants>",
      "comma-separated tenants whose metrics get a tenant label of their own (others: other); default: no tenant label",
    ).env("AGENT_RUNTIME_METRICS_TENANT_LABELS"),
    new Option(
      "--audit-retention-days <days>",
      "delete stored audit records (GET /audit) older than this many days, checked hourly; 0 keeps every record",
    )
      .env("AGENT_RUNTIME_AUDIT_RETENTION_DAYS")
      .argParser(days)
      .default(90),
  ];
}

/** The parsed options (commander's camel-cased names) as `serve` takes them. */
export function observabilityServeOptions(values: {
  metricsPort?: number;
  metricsHost?: string;
  metricsTenantLabels?: string;
  auditRetentionDays?: number;
}): ObservabilityServeOptions {
  const tenants = values.metricsTenantLabels
    ?.split(",")
    .map((tenant) => tenant.trim())
    .filter((tenant) => tenant !== "");
  return {
    ...(values.metricsPort === undefined ? {} : { metricsPort: values.metricsPort }),
    ...(values.metricsHost ? { metricsHost: values.metricsHost } : {}),
    ...(tenants?.length ? { metricsTenantLabels: tenants } : {}),
    auditRetentionDays: values.auditRetentionDays ?? 90,
  };
}
