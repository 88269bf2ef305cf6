import { Command, InvalidArgumentError, Option } from "commander";
import type { ReplayPacing } from "./cassette/player.js";
import { loadScriptFile } from "./script/parse-script.js";
import { type MockModel, startMockModel } from "./server.js";

/** The port the CLI listens on when `--port` is not given. */
const DEFAULT_CLI_PORT = 4100;

/**
 * Runs the `agent-runtime-mock-model` command: parses `argv` (the arguments
 * only, without `node` and the script path), starts the server, prints its
 * URL, and resolves with the running server (the caller decides when to
 * close it).
 * @throws MockModelError `invalid_script` for a bad script file, `invalid_cassette` for a bad replay cassette,
 *   `invalid_options` for conflicting modes; a `CommanderError` for bad arguments
 *   (its message is the one to print; `--help` throws one with code `commander.helpDisplayed`).
 */
export async function runMockModelCli(argv: readonly string[]): Promise<MockModel> {
  const program = new Command("agent-runtime-mock-model")
    .description("Scripted Anthropic- and OpenAI-compatible model server for tests and demos.")
    .option("--script <file>", "JSON script file (see the package README)")
    .option("--port <n>", "port to listen on (0 picks a free one)", parsePort, DEFAULT_CLI_PORT)
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--demo", "add the built-in demo behaviours", false)
    .option("--quiet", "do not log requests", false)
    .option("--record <upstream>", "record mode: forward to this URL and write --cassette")
    .option("--cassette <file>", "the cassette file record mode writes")
    .option("--replay <file>", "replay mode: answer from this cassette file")
    .addOption(
      new Option("--pacing <pacing>", "replay pacing: original (recorded timing) or fast")
        .choices(["original", "fast"])
        .default("fast"),
    )
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  program.parse([...argv], { from: "user" });
  const options = program.opts<{
    script?: string;
    port: number;
    host: string;
    demo: boolean;
    quiet: boolean;
    record?: string;
    cassette?: string;
    replay?: string;
    pacing: ReplayPacing;
  }>();
  if (options.record !== undefined && options.cassette === undefined)
    program.error("--record needs --cassette <file>", { code: "commander.missingCassette" });
  if (options.cassette !== undefined && options.record === undefined)
    program.error("--cassette is only used with --record", { code: "commander.unusedCassette" });

  const script = options.script ? await loadScriptFile(options.script) : undefined;
  const log = (message: string) => console.log(`[mock-model] ${message}`);
  const server = await startMockModel({
    script,
    port: options.port,
    host: options.host,
    demo: options.demo,
    logger: options.quiet ? undefined : { info: log, warn: log },
    record:
      options.record !== undefined && options.cassette !== undefined
        ? { upstream: options.record, cassette: options.cassette }
        : undefined,
    replay: options.replay !== undefined ? { cassette: options.replay, pacing: options.pacing } : undefined,
  });
  const mode = options.demo
    ? " (demo mode)"
    : options.record
      ? ` (recording ${options.record} to ${options.cassette})`
      : options.replay
        ? ` (replaying ${options.replay})`
        : "";
  console.log(`[mock-model] listening on ${server.url}${mode}`);
  return server;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError("expected a port number");
  return port;
}
