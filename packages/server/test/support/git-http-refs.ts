import { execFile } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Makes a git repository with one empty commit in `dir` and returns the commit's id. */
export async function makeGitRepository(dir: string): Promise<string> {
  const git = (...args: string[]) => execFileAsync("git", ["-C", dir, ...args]);
  await execFileAsync("git", ["init", "-q", "-b", "main", dir]);
  await git(
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@example.test",
    "commit",
    "-q",
    "--allow-empty",
    "-m",
    "init",
  );
  return (await git("rev-parse", "HEAD")).stdout.trim();
}

/**
 * Answers the one request `git ls-remote` makes of a smart-HTTP server:
 * `GET <path>/info/refs?service=git-upload-pack`, with the reference
 * advertisement of `repository` (git's own `upload-pack`). Protocol v0: a
 * client asking for v2 accepts it. Any other request: 404.
 */
export function gitRefsHandler(path: string, repository: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== "GET" || req.url !== `${path}/info/refs?service=git-upload-pack`) {
      res.writeHead(404).end();
      return;
    }
    execFile(
      "git",
      ["upload-pack", "--stateless-rpc", "--advertise-refs", repository],
      { encoding: "buffer" },
      (error, stdout) => {
        if (error) {
          res.writeHead(500).end();
          return;
        }
        const service = "# service=git-upload-pack\n";
        res.writeHead(200, { "content-type": "application/x-git-upload-pack-advertisement" });
        res.end(Buffer.concat([Buffer.from(`${pktLength(service)}${service}0000`), stdout]));
      },
    );
  };
}

function pktLength(line: string): string {
  return (Buffer.byteLength(line) + 4).toString(16).padStart(4, "0");
}
