import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openCodeTranscriptFileName } from "@agent-runtime/protocol";
import type { OpencodeClient } from "@opencode-ai/sdk/v2/client";

/**
 * OpenCode keeps sessions in its SQLite database (`$HOME/.local/share/opencode/opencode.db`),
 * which is not safe to copy while the server runs. The runtime's transcript
 * is therefore an export in `dir` (`OPENCODE_TRANSCRIPT_DIR_ENV`, given by
 * the server), named by `openCodeTranscriptFileName`, in the format of
 * `opencode export` (`{info, messages: [{info, parts}]}`), which
 * `opencode import` reads back.
 */
function transcriptFile(dir: string, sessionId: string): string {
  return join(dir, openCodeTranscriptFileName(sessionId));
}

/**
 * Writes the export of `sessionId` atomically (temporary file, then rename),
 * so a sync never reads a half-written transcript. Rejects when OpenCode
 * cannot list the session or the file cannot be written.
 */
export async function exportTranscript(
  client: OpencodeClient,
  dir: string,
  sessionId: string,
): Promise<void> {
  const [session, messages] = await Promise.all([
    client.session.get({ sessionID: sessionId }, { throwOnError: true }),
    client.session.messages({ sessionID: sessionId }, { throwOnError: true }),
  ]);
  await mkdir(dir, { recursive: true });
  const file = transcriptFile(dir, sessionId);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ info: session.data, messages: messages.data })}\n`);
  await rename(temporary, file);
}

/**
 * Imports the exported transcript of `sessionId` into OpenCode's database
 * with `opencode import`, before the server starts. Importing a session that
 * is already there is harmless (OpenCode upserts). Resolves `false` when
 * there is no export to import; rejects when the import fails.
 */
export async function importTranscript(options: {
  binary: string;
  dir: string;
  sessionId: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  diagnostics: (text: string) => void;
}): Promise<boolean> {
  const file = transcriptFile(options.dir, options.sessionId);
  if (!existsSync(file)) return false;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(options.binary, ["import", file], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      options.diagnostics(chunk.toString("utf8"));
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`opencode import exited with ${code}: ${output.trim()}`)),
    );
  });
  return true;
}
