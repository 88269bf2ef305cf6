import { readFile } from "node:fs/promises";
import { runnerConfigSchema } from "@agent-runtime/protocol";
import { makeNonDumpable } from "./non-dumpable.js";
import { createOutputWriter } from "./output.js";
import { runRunner } from "./runner.js";

/**
 * The runner process inside a sandbox, `<entry> <config.json>`: stdout
 * carries protocol lines only (console output goes to stderr); stdin carries
 * commands. Exits with code 0 after `shutdown` or stdin EOF, 1 after a
 * `fatal` line. Call once, as the process's main code (`main.ts`, or the
 * local runner's loader).
 */
export async function runnerMain(): Promise<void> {
  const output = createOutputWriter(process.stdout);
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;

  const fail = async (message: string): Promise<never> => {
    output.write({ type: "fatal", message });
    await output.flush();
    process.exit(1);
  };

  process.on("uncaughtException", (error) => void fail(`uncaught: ${error.message}`));
  process.on("unhandledRejection", (reason) => void fail(`unhandled rejection: ${String(reason)}`));

  try {
    makeNonDumpable();
  } catch (error) {
    await fail(`cannot protect the runner from the agent's processes: ${String(error)}`);
  }

  const configPath = process.argv[2];
  if (!configPath) await fail("usage: runner <config.json>");

  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configPath as string, "utf8"));
  } catch (error) {
    await fail(`cannot read config ${configPath}: ${String(error)}`);
  }
  const parsed = runnerConfigSchema.safeParse(raw);
  if (!parsed.success) await fail(`invalid config: ${parsed.error.message}`);

  const code = await runRunner(parsed.data!, { stdin: process.stdin, output, stderr: process.stderr });
  await output.flush();
  process.exit(code);
}
