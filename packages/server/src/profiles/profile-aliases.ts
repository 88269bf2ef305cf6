import { RuntimeError } from "../errors.js";
import { isRecord } from "./front-matter.js";

/** Where deprecation warnings go (a pino logger fits). */
export interface ProfileLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** The migration guide, named in every alias warning and error. */
const GUIDE = "docs/profiles/migrating.md";

/**
 * Maps the original system's profile field names (`environmentVariables`,
 * `npmDependencies`, `pipDependencies`, `defaultWorkspaceFiles`,
 * `externalMCPs`; a skill's `skillMd`, `supportingFiles`,
 * `npmDependencies`, `pipDependencies`) onto ours, so its profiles load
 * unchanged. Each alias used is logged once per call as deprecated, naming
 * `source`. Returns a new object; `fields` is not changed. Values are moved
 * as they are: validation reports a wrong type under our field's name.
 *
 * `bundledMCPs` (`{name, localProjectPath, installCommand, startCommand}`)
 * become `bundled` entries of `mcpServers` whose commands run in `sh -c`;
 * a project's files must be there already (`files`, which a profile folder's
 * loader reads from `localProjectPath`).
 *
 * Throws `VALIDATION_FAILED` naming `source` when an alias and its field are
 * both set, when `externalMCPs` or `bundledMCPs` is not a list of named
 * servers, and for a bundled project whose files are not there.
 */
export function migrateProfileAliases(
  fields: Readonly<Record<string, unknown>>,
  source: string,
  logger: ProfileLogger,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...fields };
  const warned = new Set<string>();
  const deprecated = (alias: string, replacement: string) => {
    if (warned.has(alias)) return;
    warned.add(alias);
    logger.warn(
      { source, field: alias, replacement },
      `${source}: "${alias}" is deprecated (the original system's name); use "${replacement}" (see ${GUIDE})`,
    );
  };
  const fail = (message: string): never => {
    throw new RuntimeError("VALIDATION_FAILED", `${source}: ${message}`);
  };
  /**
   * Moves `from[alias]` to `(to ?? from)[field]`, converted, refusing when
   * both are set; messages call them `label` (default `alias`) and
   * `replacement` (default `field`).
   */
  const move = (
    from: Record<string, unknown>,
    alias: string,
    field: string,
    options: {
      to?: Record<string, unknown>;
      label?: string;
      replacement?: string;
      convert?: (value: unknown) => unknown;
    } = {},
  ) => {
    if (!(alias in from)) return;
    const { to = from, label = alias, replacement = field, convert = (value: unknown) => value } = options;
    if (to[field] !== undefined) {
      fail(`both "${label}" (deprecated) and "${replacement}" are set; keep "${replacement}"`);
    }
    deprecated(label, replacement);
    to[field] = convert(from[alias]);
    delete from[alias];
  };

  move(out, "environmentVariables", "env");
  move(out, "defaultWorkspaceFiles", "defaultFiles", {
    convert: (files) => (Array.isArray(files) ? files.map(withoutTimestamps) : files),
  });
  move(out, "externalMCPs", "mcpServers", { convert: (servers) => mcpServersOf(servers, fail) });
  if ("bundledMCPs" in out) {
    deprecated("bundledMCPs", 'mcpServers (each with "type": "bundled")');
    const servers = isRecord(out.mcpServers) ? { ...out.mcpServers } : {};
    for (const [name, server] of Object.entries(bundledServersOf(out.bundledMCPs, fail))) {
      if (name in servers) fail(`bundledMCPs: "${name}" is also a server of mcpServers`);
      servers[name] = server;
    }
    out.mcpServers = servers;
    delete out.bundledMCPs;
  }

  // `dependencies` as an object to add packages to; a value of another type is left for validation to report.
  let deps: Record<string, unknown> | undefined;
  const dependencies = (): Record<string, unknown> | undefined => {
    if (deps || (out.dependencies !== undefined && !isRecord(out.dependencies))) return deps;
    deps = { ...(out.dependencies as Record<string, unknown> | undefined) };
    out.dependencies = deps;
    return deps;
  };
  for (const kind of ["npm", "pip"] as const) {
    const target = `${kind}Dependencies` in out ? dependencies() : undefined;
    if (target) move(out, `${kind}Dependencies`, kind, { to: target, replacement: `dependencies.${kind}` });
  }

  if (Array.isArray(out.skills)) {
    out.skills = out.skills.map((skill) => {
      if (!isRecord(skill)) return skill;
      const migrated: Record<string, unknown> = { ...skill };
      const label = (name: string) => `skills[].${name}`;
      move(migrated, "skillMd", "content", { label: label("skillMd"), replacement: label("content") });
      move(migrated, "supportingFiles", "files", {
        label: label("supportingFiles"),
        replacement: label("files"),
        convert: (files) => (Array.isArray(files) ? files.map(supportingFile) : files),
      });
      for (const kind of ["npm", "pip"] as const) {
        const alias = `${kind}Dependencies`;
        const target = alias in migrated ? dependencies() : undefined;
        const listed = migrated[alias];
        const current = target?.[kind] ?? [];
        if (!target || !Array.isArray(listed) || !Array.isArray(current)) continue;
        // A skill's packages join the profile's: they are installed for the whole sandbox.
        deprecated(label(alias), `dependencies.${kind}`);
        target[kind] = [...new Set([...current, ...listed])];
        delete migrated[alias];
      }
      return migrated;
    });
  }
  return out;
}

/** The original system's `WorkspaceFile` as a file entry: its timestamps mean nothing for a default file. */
function withoutTimestamps(file: unknown): unknown {
  if (!isRecord(file)) return file;
  const { createdAt: _created, modifiedAt: _modified, ...entry } = file;
  return entry;
}

/** A skill's `{relativePath, content}` as a file entry `{path, content}`. */
function supportingFile(file: unknown): unknown {
  if (!isRecord(file) || !("relativePath" in file)) return file;
  const { relativePath, ...rest } = file;
  return { path: relativePath, ...rest };
}

/**
 * `bundledMCPs` (the original system's projects: `name`, `description`,
 * `localProjectPath`, `startCommand`, `installCommand`, and `files` once a
 * profile folder's loader has read the project) as `bundled` servers by name.
 */
function bundledServersOf(servers: unknown, fail: (message: string) => never): Record<string, unknown> {
  if (!Array.isArray(servers)) fail(`bundledMCPs: expected a list of projects, each with a "name"`);
  const byName: Record<string, unknown> = {};
  for (const [index, server] of (servers as unknown[]).entries()) {
    if (!isRecord(server) || typeof server.name !== "string" || server.name === "") {
      fail(`bundledMCPs.${index}: expected a project with a "name"`);
    }
    const {
      name,
      description: _description,
      localProjectPath: _path,
      startCommand,
      installCommand,
      files,
      ...rest
    } = server as Record<string, unknown> & { name: string };
    if (name in byName) fail(`bundledMCPs: "${name}" is defined twice`);
    if (typeof startCommand !== "string" || startCommand === "") {
      fail(`bundledMCPs.${index}.startCommand: expected the command that starts the server`);
    }
    if (files === undefined) {
      fail(
        `bundledMCPs.${index}: its project files are read from "localProjectPath" only in a profile folder; ` +
          `elsewhere give it as an mcpServers entry with "type": "bundled" and its "files"`,
      );
    }
    byName[name] = {
      type: "bundled",
      files,
      install:
        typeof installCommand === "string" && installCommand !== "" ? ["/bin/sh", "-c", installCommand] : [],
      command: "/bin/sh",
      args: ["-c", startCommand],
      ...rest,
    };
  }
  return byName;
}

/**
 * `externalMCPs` (a list of Claude Agent SDK server configs, each with a
 * `name`) as `mcpServers` (by name); a config without `type` is `stdio`.
 */
function mcpServersOf(servers: unknown, fail: (message: string) => never): Record<string, unknown> {
  if (!Array.isArray(servers)) fail(`externalMCPs: expected a list of servers, each with a "name"`);
  const byName: Record<string, unknown> = {};
  for (const [index, server] of (servers as unknown[]).entries()) {
    if (!isRecord(server) || typeof server.name !== "string" || server.name === "") {
      fail(`externalMCPs.${index}: expected a server with a "name"`);
    }
    const { name, ...config } = server as Record<string, unknown> & { name: string };
    if (name in byName) fail(`externalMCPs: "${name}" is defined twice`);
    byName[name] = { type: "stdio", ...config };
  }
  return byName;
}
