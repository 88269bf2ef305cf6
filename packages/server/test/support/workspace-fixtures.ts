import { createHash, randomBytes } from "node:crypto";
import type { ReplyInput, RuleInput } from "@agent-runtime/mock-model";

/**
 * The round-trip table of the workspace durability suites: files an agent
 * writes that must come back byte for byte after any teardown, restart or
 * crash. Contents are known to the test (random bytes drawn once per
 * table), so every check compares against them, never against what the
 * runtime itself stored.
 */
export interface WorkspaceFixtures {
  /** Workspace-relative path → exact content, for every file that must survive. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** Symbolic links the agent makes: path → target (one inside the workspace, one out of it). */
  readonly links: ReadonlyMap<string, string>;
  /** Written with the others, then deleted: it must stay deleted. */
  readonly deleted: { readonly path: string; readonly content: Buffer };
  /** Written through `PUT /sessions/:id/files/*` before the first message (the others by the agent). */
  readonly putPath: string;
  /** Bash command (run in the workspace) that writes every file but `putPath`, then prints `HASH_COMMAND`'s listing. */
  readonly writeCommand: string;
}

/** A name of 224 bytes: legal on every Linux file system (255 is the limit), long for temp-name schemes. */
const LONG_NAME = `${"n".repeat(220)}.txt`;

const RANDOM_BYTES = 64 * 1024;
const TEXT = "Grüße, 世界 — ½ € 🌍\nzweite Zeile\n";

/**
 * Lists `sha256  ./path` of every regular file in the workspace (the agent's
 * own `.claude` folder aside), as GNU `sha256sum` prints it, then
 * `link ./path -> target` of every symbolic link.
 */
export const HASH_COMMAND =
  "find . -path ./.claude -prune -o -type f -print0 | sort -z | xargs -0 sha256sum -- && " +
  "find . -path ./.claude -prune -o -type l -printf 'link ./%P -> %l\\n' | sort";

/** Draws a new table: 64 KiB of random bytes, and a 3 MB and a 50 MB file built from them. */
export function createWorkspaceFixtures(): WorkspaceFixtures {
  const random = randomBytes(RANDOM_BYTES);
  const files = new Map<string, Buffer>([
    ["random.bin", random],
    ["big/3mb.bin", repeatTo(random, 3_000_000)],
    ["big/50mb.bin", repeatTo(random, 50_000_000)],
    ["notes/utf8.txt", Buffer.from(TEXT)],
    ["notes/put-via-api.txt", Buffer.from(`written through the API: ${TEXT}`)],
    [LONG_NAME, Buffer.from("a long name\n")],
    ["with spaces in it.txt", Buffer.from("spaces\n")],
    ["ünïcødé 名前 ✓.txt", Buffer.from("unicode name\n")],
    ["-leading-dash.txt", Buffer.from("leading dash\n")],
    ["deep/er/and/deeper/leaf.txt", Buffer.from("nested\n")],
    ["empty.txt", Buffer.alloc(0)],
  ]);
  const links = new Map([
    ["links/to-utf8", "../notes/utf8.txt"],
    ["links/out", "/etc/hostname"],
  ]);
  const deleted = { path: "gone.txt", content: Buffer.from("this file is deleted\n") };
  const putPath = "notes/put-via-api.txt";
  const writeCommand = [
    "set -e",
    "mkdir -p big notes deep/er/and/deeper",
    repeatedBytesCommand(random, RANDOM_BYTES, "random.bin"),
    `for i in $(seq ${Math.ceil(3_000_000 / RANDOM_BYTES)}); do cat random.bin; done | head -c 3000000 > big/3mb.bin`,
    `for i in $(seq ${Math.ceil(50_000_000 / RANDOM_BYTES)}); do cat random.bin; done | head -c 50000000 > big/50mb.bin`,
    ...[...files]
      .filter(([path]) => path !== putPath && !path.endsWith(".bin"))
      .map(([path, content]) => printfTo(path, content)),
    printfTo(deleted.path, deleted.content),
    "mkdir -p links",
    ...[...links].map(([path, target]) => `ln -s ${shellQuote(target)} ${shellQuote(`./${path}`)}`),
    HASH_COMMAND,
  ].join("\n");
  return { files, links, deleted, putPath, writeCommand };
}

/** `content` (text) written to `./path` with printf, both single-quoted for the shell. */
function printfTo(path: string, content: Buffer): string {
  return `printf '%s' ${shellQuote(content.toString("utf8"))} > ${shellQuote(`./${path}`)}`;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * A shell command writing `repeatTo(block, size)` to `./path`; it carries
 * `block` base64-encoded once, so keep blocks well under 96 KiB (a command
 * is one argument, at most 128 KiB).
 */
export function repeatedBytesCommand(block: Buffer, size: number, path: string): string {
  const count = Math.ceil(size / block.length);
  return `for i in $(seq ${count}); do printf '%s' '${block.toString("base64")}' | base64 -d; done | head -c ${size} > ${shellQuote(`./${path}`)}`;
}

/** `block` repeated (the last copy cut) to exactly `size` bytes. */
export function repeatTo(block: Buffer, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += block.length) block.copy(out, offset);
  return out;
}

/** Lowercase hex SHA-256. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Path → SHA-256 of `files`, the form every check compares. */
export function expectedHashes(files: ReadonlyMap<string, Buffer>): Record<string, string> {
  return Object.fromEntries([...files].map(([path, content]) => [path, sha256(content)]));
}

/**
 * Parses `HASH_COMMAND`'s output into path → SHA-256, and for a link path →
 * `linkView(target)` (paths without the leading `./`).
 */
export function parseHashListing(output: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const line of output.split("\n")) {
    const file = /^([0-9a-f]{64}) [ *]\.\/(.+)$/.exec(line);
    if (file) hashes[file[2]!] = file[1]!;
    const link = /^link \.\/(.+) -> (.+)$/.exec(line);
    if (link) hashes[link[1]!] = linkView(link[2]!);
  }
  return hashes;
}

/** How a listing of the workspace shows a symbolic link to `target`. */
export function linkView(target: string): string {
  return `link -> ${target}`;
}

/** Prompts the rules of `fixtureRules` answer. */
export const PROMPTS = {
  write: "Write the fixtures",
  hash: "Hash the workspace",
} as const;

/** The shell tool's name: Claude Code's `Bash` or OpenCode's `bash`. */
export type ShellTool = "Bash" | "bash";

/** Rule: `PROMPTS.hash` runs `HASH_COMMAND` with `tool`, then answers shortly. */
export function hashRule(tool: ShellTool = "Bash"): RuleInput {
  return {
    name: "hash-workspace",
    match: { prompt: PROMPTS.hash },
    replies: [bashReply(HASH_COMMAND, tool), "Hashed."],
  };
}

/** Rules: `PROMPTS.write` runs `fixtures.writeCommand` with `tool`, then answers shortly; and `hashRule`. */
export function fixtureRules(fixtures: WorkspaceFixtures, tool: ShellTool = "Bash"): RuleInput[] {
  return [
    {
      name: "write-fixtures",
      match: { prompt: PROMPTS.write },
      replies: [bashReply(fixtures.writeCommand, tool), "Fixtures written."],
    },
    hashRule(tool),
  ];
}

/** One shell tool call in the workspace, its input streamed in large chunks (the write command is ~90 KB). */
export function bashReply(command: string, tool: ShellTool = "Bash"): ReplyInput {
  return {
    steps: [{ tool, input: { command: `cd {{cwd}} && ${command}`, description: "Run it" } }],
    chunkSize: 8_192,
  };
}
