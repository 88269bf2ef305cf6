#!/usr/bin/env node
import { runMockModelCli } from "./cli.js";

try {
  const server = await runMockModelCli(process.argv.slice(2));
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void server.close().then(() => process.exit(0)));
  }
} catch (error) {
  const { code, message } = error as { code?: string; message: string };
  if (code === "commander.helpDisplayed" || code === "commander.version") process.exit(0);
  console.error(message);
  process.exit(1);
}
