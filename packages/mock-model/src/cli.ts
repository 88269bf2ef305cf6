import { Command, InvalidArgumentError } from "commander";
import { loadScriptFile } from "./script/parse-script.js";
import { type MockModel, startMockModel } from "./server.js";

/** The port the CLI listens on when `--port` is not given. */
const DEFAULT_CLI_PORT = 4100;

/**
 * Runs the `agent-runtime-mock-model` command: parses `argv` (the arguments
 * only, without `node` and the script path), starts the server, prints its
 * URL, and resolves with the running server (the caller decides when to
 * close it).
 * @throws MockModelError `invalid_script` for a bad script file; a `CommanderError` for bad arguments
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
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  program.parse([...argv], { from: "user" });
  const options = program.opts<{
    script?: string;
    port: number;
    host: string;
    demo: boolean;
    quiet: boolean;
  }>();

  const script = options.script ? await loadScriptFile(options.script) : undefined;
  const log = (message: string) => console.log(`[mock-model] ${message}`);
  const server = await startMockModel({
    script,
    port: options.port,
    host: options.host,
    demo: options.demo,
    logger: options.quiet ? undefined : { info: log, warn: log },
  });
  console.log(`[mock-model] listening on ${server.url}${options.demo ? " (demo mode)" : ""}`);
  return server;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError("expected a port number");
  return port;
}
