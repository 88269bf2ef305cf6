import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** One package a registry stand-in serves: what `npm pack` made of a folder the test wrote. */
export interface PackedPackage {
  readonly name: string;
  readonly version: string;
  readonly tarball: Buffer;
  /** What `require(name)` exports. */
  readonly exported: string;
}

/** Writes a one-file package `name@1.0.0` exporting `exported` under `dir` and packs it. */
export async function packPackage(dir: string, name: string, exported: string): Promise<PackedPackage> {
  const source = join(dir, name);
  await mkdir(source, { recursive: true });
  const version = "1.0.0";
  await writeFile(join(source, "package.json"), JSON.stringify({ name, version, main: "index.js" }));
  await writeFile(join(source, "index.js"), `module.exports = ${JSON.stringify(exported)};\n`);
  const { stdout } = await execFileAsync("npm", ["pack", "--silent", "--pack-destination", dir], {
    cwd: source,
  });
  const tarball = await readFile(join(dir, stdout.trim().split("\n").pop()!));
  return { name, version, tarball, exported };
}

/**
 * The two requests `npm install <name>` makes of a registry at `baseUrl`, for
 * each of `packages`: the package's metadata (`GET /<name>`) and its
 * tarball; anything else is 404.
 */
export function registryHandler(baseUrl: string, packages: PackedPackage | readonly PackedPackage[]) {
  const routes = new Map<string, { type: string; body: string | Buffer }>();
  for (const pkg of Array.isArray(packages) ? packages : [packages as PackedPackage]) {
    const tarballPath = `/${pkg.name}/-/${pkg.name}-${pkg.version}.tgz`;
    const metadata = JSON.stringify({
      name: pkg.name,
      "dist-tags": { latest: pkg.version },
      versions: {
        [pkg.version]: {
          name: pkg.name,
          version: pkg.version,
          dist: {
            tarball: `${baseUrl}${tarballPath}`,
            shasum: createHash("sha1").update(pkg.tarball).digest("hex"),
            integrity: `sha512-${createHash("sha512").update(pkg.tarball).digest("base64")}`,
          },
        },
      },
    });
    routes.set(`/${pkg.name}`, { type: "application/json", body: metadata });
    routes.set(tarballPath, { type: "application/octet-stream", body: pkg.tarball });
  }
  return (req: IncomingMessage, res: ServerResponse): void => {
    const route = routes.get(req.url ?? "");
    if (route) res.writeHead(200, { "content-type": route.type }).end(route.body);
    else res.writeHead(404).end();
  };
}
