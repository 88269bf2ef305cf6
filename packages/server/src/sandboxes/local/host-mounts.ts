import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import type { RunnerLocation } from "./runner-location.js";
import { isWithin } from "./sandbox-paths.js";

/**
 * Top-level system folders bound read-only (or recreated as the same symlink,
 * e.g. `/bin -> usr/bin` on merged-/usr systems) when they exist.
 */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * The part of `/etc` programs need for DNS, TLS, time zones, shared libraries
 * and `update-alternatives` links, bound only where present. Not all of
 * `/etc`: the agent's uid is mapped to the server's uid (root here), so it can
 * read every root-owned file it sees, mode 0600 included (`/etc/shadow`,
 * `/etc/ssl/private`, ssh host keys). `passwd` and `group` are generated per
 * sandbox instead.
 */
const ETC_ENTRIES = [
  "alternatives",
  "bash.bashrc",
  "ca-certificates",
  "ca-certificates.conf",
  "crypto-policies",
  "debian_version",
  "gai.conf",
  "gitconfig",
  "host.conf",
  "hosts",
  "inputrc",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "localtime",
  "lsb-release",
  "mime.types",
  "nsswitch.conf",
  "os-release",
  "pki/ca-trust",
  "pki/tls/certs",
  "profile",
  "protocols",
  "resolv.conf",
  "services",
  "ssl/certs",
  "ssl/openssl.cnf",
  "terminfo",
  "timezone",
];

const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What every sandbox of a provider sees of the host; computed once per provider. */
export interface HostMounts {
  /** bwrap arguments, in order, that mount the host's read-only parts. */
  readonly args: readonly string[];
  /** The host folders those arguments bind, besides the system folders and `/etc` entries. */
  readonly sources: readonly string[];
  /** `PATH` inside: the Node.js binary's folder first, then the usual system folders. */
  readonly path: string;
}

export interface HostMountsInput {
  /** Real path of the folder holding all sandboxes; hidden when a bound folder contains it. */
  readonly realRootDir: string;
  readonly runner: RunnerLocation | undefined;
  readonly extraReadOnlyPaths: readonly string[];
}

/** Probes the host (synchronously, a few `lstat`s) and returns the shared mounts. */
export function hostMounts(input: HostMountsInput): HostMounts {
  const args: string[] = [];
  const bound: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    const stats = lstatSync(dir, { throwIfNoEntry: false });
    if (stats?.isSymbolicLink()) {
      args.push("--symlink", readlinkSync(dir), dir);
    } else if (stats?.isDirectory()) {
      args.push("--ro-bind", dir, dir);
      bound.push(dir);
    }
  }
  for (const entry of ETC_ENTRIES) args.push("--ro-bind-try", `/etc/${entry}`, `/etc/${entry}`);

  const nodeBinDir = dirname(realpathSync(process.execPath));
  const extra = [dirname(nodeBinDir), ...(input.runner?.readOnlyPaths ?? []), ...input.extraReadOnlyPaths];
  const sources: string[] = [];
  for (const path of extra) {
    if (bound.some((parent) => isWithin(parent, path))) continue;
    args.push("--ro-bind", path, path);
    bound.push(path);
    sources.push(path);
  }
  if (bound.some((parent) => isWithin(parent, input.realRootDir))) {
    args.push("--tmpfs", input.realRootDir, "--remount-ro", input.realRootDir);
  }
  const systemPath = SYSTEM_PATH.split(":");
  return {
    args,
    sources,
    path: systemPath.includes(nodeBinDir) ? SYSTEM_PATH : `${nodeBinDir}:${SYSTEM_PATH}`,
  };
}
