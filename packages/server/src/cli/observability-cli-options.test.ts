import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { observabilityCliOptions, observabilityServeOptions } from "./observability-cli-options.js";

function parse(args: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const command = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
    for (const option of observabilityCliOptions()) command.addOption(option);
    command.parse(args, { from: "user" });
    return observabilityServeOptions(command.opts());
  } finally {
    process.env = saved;
  }
}

describe("observability options of serve", () => {
  it("parses the metrics port, host and tenant labels, from flags or the environment", () => {
    expect(parse([])).toEqual({ auditRetentionDays: 90 });
    expect(parse(["--metrics-port", "9464", "--metrics-tenant-labels", " acme, globex ,,"])).toEqual({
      metricsPort: 9464,
      metricsTenantLabels: ["acme", "globex"],
      auditRetentionDays: 90,
    });
    expect(parse([], { AGENT_RUNTIME_METRICS_PORT: "9100", AGENT_RUNTIME_METRICS_HOST: "0.0.0.0" })).toEqual({
      metricsPort: 9100,
      metricsHost: "0.0.0.0",
      auditRetentionDays: 90,
    });
  });

  it("takes the audit trail's retention in days (0 keeps every record), from the flag or the environment", () => {
    expect(parse(["--audit-retention-days", "0"])).toEqual({ auditRetentionDays: 0 });
    expect(parse(["--audit-retention-days", "2.5"])).toEqual({ auditRetentionDays: 2.5 });
    expect(parse([], { AGENT_RUNTIME_AUDIT_RETENTION_DAYS: "365" })).toEqual({ auditRetentionDays: 365 });
    for (const value of ["-1", "x", "Infinity"])
      expect(() => parse(["--audit-retention-days", value]), value).toThrow(/days/);
  });

  it("refuses a metrics port that is not one", () => {
    for (const value of ["0", "65536", "x", "9464.5"])
      expect(() => parse(["--metrics-port", value]), value).toThrow(/Not a port/);
  });
});
