import { Option } from "commander";
import type { ModalSandboxOptions } from "../sandboxes/modal/modal-sandbox-options.js";
import { numeric } from "./numeric-option.js";

/*
 * The Modal provider's options as command-line options and environment
 * variables, shared by `serve` and `doctor`. Values are checked by the
 * provider's own schema (`createModalSandboxProvider` throws
 * VALIDATION_FAILED naming the option); here they are only parsed.
 */

/** The options, each with its environment variable. */
export function modalCliOptions(): Option[] {
  return [
    new Option("--modal-app <name>", "Modal App holding the sandboxes (default: agent-runtime)").env(
      "AGENT_RUNTIME_MODAL_APP",
    ),
    new Option("--modal-environment <name>", "Modal environment (default: the token's)").env(
      "MODAL_ENVIRONMENT",
    ),
    new Option(
      "--modal-image <image>",
      "registry image the sandbox image is built on (default: node:20-slim)",
    ).env("AGENT_RUNTIME_MODAL_IMAGE"),
    new Option(
      "--modal-dockerfile-command <command...>",
      "extra Dockerfile command for the sandbox image (repeatable; env: one per line)",
    ).env("AGENT_RUNTIME_MODAL_DOCKERFILE_COMMANDS"),
    new Option("--modal-secrets <names>", "comma-separated Modal Secrets injected into every sandbox").env(
      "AGENT_RUNTIME_MODAL_SECRETS",
    ),
    new Option("--modal-region <region>", "Modal region to run sandboxes in (default: any)").env(
      "AGENT_RUNTIME_MODAL_REGION",
    ),
    new Option("--modal-cpu <cores>", "CPU cores reserved per sandbox (default: 1)")
      .env("AGENT_RUNTIME_MODAL_CPU")
      .argParser(numeric),
    new Option("--modal-memory <MiB>", "memory per sandbox in MiB, also its hard limit (default: 2048)")
      .env("AGENT_RUNTIME_MODAL_MEMORY")
      .argParser(numeric),
    new Option("--modal-timeout <seconds>", "maximum lifetime of a sandbox, at most 86400 (default: 3600)")
      .env("AGENT_RUNTIME_MODAL_TIMEOUT")
      .argParser(numeric),
    new Option(
      "--modal-idle-timeout <seconds>",
      "Modal stops a sandbox with no running command this long (default: 600)",
    )
      .env("AGENT_RUNTIME_MODAL_IDLE_TIMEOUT")
      .argParser(numeric),
    new Option(
      "--modal-allow-domains <domains>",
      "comma-separated domains sandboxes may reach (default: all)",
    ).env("AGENT_RUNTIME_MODAL_ALLOW_DOMAINS"),
    new Option("--modal-allow-cidrs <cidrs>", "comma-separated CIDRs sandboxes may reach (default: all)").env(
      "AGENT_RUNTIME_MODAL_ALLOW_CIDRS",
    ),
    new Option("--modal-block-network", "cut sandboxes' networking entirely").env(
      "AGENT_RUNTIME_MODAL_BLOCK_NETWORK",
    ),
    new Option(
      "--modal-sandbox-backend <backend>",
      "Modal's sandbox backend (default: the SDK's, v2 unless MODAL_SANDBOX_V2 says otherwise)",
    )
      .choices(["v1", "v2"])
      .env("AGENT_RUNTIME_MODAL_SANDBOX_BACKEND"),
  ];
}

/** What commander parsed of `modalCliOptions()`. */
export interface ModalCliValues {
  readonly modalApp?: string;
  readonly modalEnvironment?: string;
  readonly modalImage?: string;
  readonly modalDockerfileCommand?: string | string[];
  readonly modalSecrets?: string;
  readonly modalRegion?: string;
  readonly modalCpu?: number;
  readonly modalMemory?: number;
  readonly modalTimeout?: number;
  readonly modalIdleTimeout?: number;
  readonly modalAllowDomains?: string;
  readonly modalAllowCidrs?: string;
  readonly modalBlockNetwork?: boolean | string;
  readonly modalSandboxBackend?: "v1" | "v2";
}

/**
 * The provider options the values set, with the token from `env`
 * (`MODAL_TOKEN_ID`, `MODAL_TOKEN_SECRET`: read from the environment only,
 * so they never show in `ps`). Unset values are left out (the provider's
 * defaults apply).
 */
export function modalProviderOptions(values: ModalCliValues, env: NodeJS.ProcessEnv): ModalSandboxOptions {
  // From the environment, commander gives a variadic option one value: one command per line.
  const dockerfileCommands =
    values.modalDockerfileCommand === undefined
      ? undefined
      : [values.modalDockerfileCommand]
          .flat()
          .flatMap((value) => value.split("\n"))
          .filter((line) => line.trim() !== "");
  const network = {
    ...(values.modalAllowDomains === undefined ? {} : { allowDomains: list(values.modalAllowDomains) }),
    ...(values.modalAllowCidrs === undefined ? {} : { allowCidrs: list(values.modalAllowCidrs) }),
    ...(values.modalBlockNetwork === undefined ||
    values.modalBlockNetwork === false ||
    values.modalBlockNetwork === "0"
      ? {}
      : { blockAll: true }),
  };
  return {
    ...(env.MODAL_TOKEN_ID ? { tokenId: env.MODAL_TOKEN_ID } : {}),
    ...(env.MODAL_TOKEN_SECRET ? { tokenSecret: env.MODAL_TOKEN_SECRET } : {}),
    ...(values.modalApp === undefined ? {} : { appName: values.modalApp }),
    ...(values.modalEnvironment === undefined ? {} : { environment: values.modalEnvironment }),
    ...(values.modalImage === undefined && dockerfileCommands === undefined
      ? {}
      : {
          image: {
            ...(values.modalImage === undefined ? {} : { base: values.modalImage }),
            ...(dockerfileCommands === undefined ? {} : { dockerfileCommands }),
          },
        }),
    ...(values.modalSecrets === undefined ? {} : { secrets: list(values.modalSecrets) }),
    ...(values.modalRegion === undefined ? {} : { region: values.modalRegion }),
    ...(values.modalCpu === undefined ? {} : { cpu: values.modalCpu }),
    ...(values.modalMemory === undefined ? {} : { memoryMiB: values.modalMemory }),
    ...(values.modalTimeout === undefined ? {} : { timeoutMs: values.modalTimeout * 1000 }),
    ...(values.modalIdleTimeout === undefined ? {} : { idleTimeoutMs: values.modalIdleTimeout * 1000 }),
    ...(Object.keys(network).length === 0 ? {} : { network }),
    ...(values.modalSandboxBackend === undefined ? {} : { sandboxBackend: values.modalSandboxBackend }),
  };
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}
