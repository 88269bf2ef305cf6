import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import dns from "node:dns";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A test certificate authority and a server certificate it signed for some host names. */
export interface TestTls {
  /** The CA's certificate: what a client inside a sandbox is told to trust. */
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Environment that makes curl, git, Node.js (Claude Code, OpenCode) and npm (its own setting) trust `caFile`. */
export function trustEnv(caFile: string): Record<string, string> {
  return {
    CURL_CA_BUNDLE: caFile,
    SSL_CERT_FILE: caFile,
    GIT_SSL_CAINFO: caFile,
    NODE_EXTRA_CA_CERTS: caFile,
    npm_config_cafile: caFile,
  };
}

/** Makes a CA and a certificate for `names` with the `openssl` command line tool. */
export async function makeTestTls(names: readonly string[]): Promise<TestTls> {
  const dir = await mkdtemp(join(tmpdir(), "test-tls-"));
  const openssl = (args: string[]) => execFileAsync("openssl", args, { cwd: dir });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  try {
    await openssl(
      ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"]
        .concat(["-subj", "/CN=agent-runtime test CA"])
        .concat(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]),
    );
    await openssl([
      "req",
      ...ec,
      "-keyout",
      "host.key",
      "-out",
      "host.csr",
      "-subj",
      "/CN=agent-runtime test host",
    ]);
    await writeFile(
      join(dir, "host.ext"),
      `subjectAltName=${names.map((name) => `DNS:${name}`).join(",")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
    );
    await openssl(
      ["x509", "-req", "-in", "host.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"].concat([
        "-days",
        "2",
        "-out",
        "host.pem",
        "-extfile",
        "host.ext",
      ]),
    );
    const [caPem, certPem, keyPem] = await Promise.all(
      ["ca.pem", "host.pem", "host.key"].map((file) => readFile(join(dir, file), "utf8")),
    );
    return { caPem: caPem!, certPem: certPem!, keyPem: keyPem! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A loopback address of its own (127.77.x.y), so that a test's port 443 collides with nothing. */
export function randomLoopbackAddress(): string {
  return `127.77.${randomInt(1, 255)}.${randomInt(1, 255)}`;
}

/**
 * Makes this process resolve `names` to `address` (the egress proxy runs in
 * the test's process and connects to allowed endpoints by name; a test cannot
 * edit the host's `/etc/hosts`). Returns the function that undoes it.
 */
export function resolveOnThisHost(names: readonly string[], address: string): () => void {
  const original = dns.lookup;
  const patched = ((hostname: string, options: unknown, callback?: unknown) => {
    const done = (typeof options === "function" ? options : callback) as (...args: unknown[]) => void;
    if (!names.includes(hostname.toLowerCase())) {
      return (original as (...args: unknown[]) => void)(hostname, options, callback);
    }
    const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all;
    process.nextTick(() => (all ? done(null, [{ address, family: 4 }]) : done(null, address, 4)));
  }) as typeof dns.lookup;
  dns.lookup = patched;
  return () => {
    dns.lookup = original;
  };
}

/** An HTTPS server on `address:443` with `tls`'s certificate. */
export async function listenHttps(
  address: string,
  tls: TestTls,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Server> {
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(443, address, () => resolve());
  });
  return server;
}
