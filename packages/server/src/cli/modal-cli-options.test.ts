import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { modalSandboxOptionsSchema } from "../sandboxes/modal/modal-sandbox-options.js";
import { createModalSandboxProvider } from "../sandboxes/modal/modal-sandbox-provider.js";
import { type ModalCliValues, modalCliOptions, modalProviderOptions } from "./modal-cli-options.js";

/** Parses `argv` with the Modal options, under `env` (commander reads option variables from process.env). */
function parse(argv: string[], env: Record<string, string> = {}): ModalCliValues {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const command = new Command().exitOverride();
    for (const option of modalCliOptions()) command.addOption(option);
    command.parse(argv, { from: "user" });
    return command.opts<ModalCliValues>();
  } finally {
    for (const name of Object.keys(env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

describe("Modal options from the command line and the environment", () => {
  it("sets every provider option from flags, the token from the environment only", () => {
    const options = modalProviderOptions(
      parse([
        "--modal-app",
        "my-app",
        "--modal-environment",
        "dev",
        "--modal-image",
        "node:22-bookworm",
        "--modal-dockerfile-command",
        "RUN apt-get update",
        "RUN apt-get install -y git",
        "--modal-secrets",
        "anthropic, github",
        "--modal-region",
        "us-east",
        "--modal-cpu",
        "2.5",
        "--modal-memory",
        "4096",
        "--modal-timeout",
        "7200",
        "--modal-idle-timeout",
        "300",
        "--modal-allow-domains",
        "api.anthropic.com,*.github.com",
        "--modal-allow-cidrs",
        "10.0.0.0/8",
        "--modal-sandbox-backend",
        "v1",
      ]),
      { MODAL_TOKEN_ID: "ak-1", MODAL_TOKEN_SECRET: "as-1" },
    );
    expect(options).toEqual({
      tokenId: "ak-1",
      tokenSecret: "as-1",
      appName: "my-app",
      environment: "dev",
      image: {
        base: "node:22-bookworm",
        dockerfileCommands: ["RUN apt-get update", "RUN apt-get install -y git"],
      },
      secrets: ["anthropic", "github"],
      region: "us-east",
      cpu: 2.5,
      memoryMiB: 4096,
      timeoutMs: 7_200_000,
      idleTimeoutMs: 300_000,
      network: { allowDomains: ["api.anthropic.com", "*.github.com"], allowCidrs: ["10.0.0.0/8"] },
      sandboxBackend: "v1",
    });
    expect(modalSandboxOptionsSchema.safeParse(options).success).toBe(true);
  });

  it("reads the same options from environment variables", () => {
    const options = modalProviderOptions(
      parse([], {
        AGENT_RUNTIME_MODAL_APP: "env-app",
        MODAL_ENVIRONMENT: "prod",
        AGENT_RUNTIME_MODAL_IMAGE: "ghcr.io/me/base:1",
        AGENT_RUNTIME_MODAL_DOCKERFILE_COMMANDS: "RUN a\nRUN b\n",
        AGENT_RUNTIME_MODAL_SECRETS: "anthropic",
        AGENT_RUNTIME_MODAL_REGION: "eu-west",
        AGENT_RUNTIME_MODAL_CPU: "4",
        AGENT_RUNTIME_MODAL_MEMORY: "8192",
        AGENT_RUNTIME_MODAL_TIMEOUT: "600",
        AGENT_RUNTIME_MODAL_IDLE_TIMEOUT: "60",
        AGENT_RUNTIME_MODAL_BLOCK_NETWORK: "1",
        AGENT_RUNTIME_MODAL_SANDBOX_BACKEND: "v2",
      }),
      {},
    );
    expect(options).toEqual({
      appName: "env-app",
      environment: "prod",
      image: { base: "ghcr.io/me/base:1", dockerfileCommands: ["RUN a", "RUN b"] },
      secrets: ["anthropic"],
      region: "eu-west",
      cpu: 4,
      memoryMiB: 8192,
      timeoutMs: 600_000,
      idleTimeoutMs: 60_000,
      network: { blockAll: true },
      sandboxBackend: "v2",
    });
  });

  it("leaves unset options to the provider's defaults, and the provider refuses invalid ones", () => {
    expect(modalProviderOptions(parse([]), {})).toEqual({});
    expect(() => parse(["--modal-cpu", "lots"])).toThrow();
    expect(() => parse(["--modal-sandbox-backend", "v3"])).toThrow();
    expect(() =>
      createModalSandboxProvider(modalProviderOptions(parse(["--modal-timeout", "1.5"]), {})),
    ).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
  });
});
