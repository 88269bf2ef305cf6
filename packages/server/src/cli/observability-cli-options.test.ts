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
    expect(parse([])).toEqual({});
    expect(parse(["--metrics-port", "9464", "--metrics-tenant-labels", " acme, globex ,,"])).toEqual({
      metricsPort: 9464,
      metricsTenantLabels: ["acme", "globex"],
    });
    expect(parse([], { AGENT_RUNTIME_METRICS_PORT: "9100", AGENT_RUNTIME_METRICS_HOST: "0.0.0.0" })).toEqual({
      metricsPort: 9100,
      metricsHost: "0.0.0.0",
    });
  });

  it("refuses a metrics port that is not one", () => {
    for (const value of ["0", "65536", "x", "9464.5"])
      expect(() => parse(["--metrics-port", value]), value).toThrow(/Not a port/);
  });
});
