import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type AgentProfile,
  type Command,
  commandSchema,
  type Skill,
  type SubagentDefinition,
  skillSchema,
  subagentDefinitionSchema,
} from "@agent-runtime/protocol";
import { parse as parseYaml } from "yaml";
import { isWithin } from "../confined-path.js";
import { errorMessage, RuntimeError } from "../errors.js";
import { type FrontMatterDocument, isRecord, splitFrontMatter } from "./front-matter.js";
import { validateAgentProfile } from "./parse-profile.js";
import { migrateProfileAliases, type ProfileLogger } from "./profile-aliases.js";
import {
  listFolder,
  readOptionalTextFile,
  readTextFile,
  readTextFilesRecursively,
} from "./read-text-files.js";
import { validateInput } from "./validate-input.js";

/**
 * Loads every profile under `dir`: each (non-hidden) subfolder is one profile,
 * in folder-name order. A profile folder holds
 * - `profile.json` or `profile.yaml` (required, not both): the simple fields;
 *   `id` defaults to the folder name;
 * - `CLAUDE.md` or `AGENTS.md` → `agentMDFile`; `system-prompt.md` → `systemPrompt`;
 * - `skills/<name>/SKILL.md` (front matter `name`, `description`; body = content),
 *   every other file of that folder being a supporting file;
 * - `agents/<name>.md` (front matter `description`, `tools`, `model`; body = prompt) → subagents;
 * - `commands/<name>.md` (front matter `description`; body = prompt) → commands;
 * - `files/**` → defaultFiles;
 * - `mcp/<name>/**` → the files of `mcpServers.<name>`, which the manifest
 *   declares as `{"type": "bundled", "command": …}` (a bundled MCP project;
 *   its `node_modules`, `.git`, `.venv`, `.python` and `__pycache__` are
 *   left out: the layer installs what it needs).
 * Skills, subagents, commands and default files from files are appended to
 * those listed in the manifest. Setting one field in two places is an error.
 * Unknown fields are errors, in the manifest and in front matter; the
 * original system's field names are accepted in the manifest with a
 * deprecation warning to `options.logger` (see `migrateProfileAliases`;
 * default: a Node.js `DeprecationWarning`).
 *
 * Throws `VALIDATION_FAILED` naming the file and the field, e.g.
 * `profiles/coder/profile.json: name: Invalid input: expected string, received number`,
 * when `dir` is missing or anything is invalid. Reads only; never writes.
 */
export async function loadProfilesFromFolder(
  dir: string,
  options: { logger?: ProfileLogger } = {},
): Promise<AgentProfile[]> {
  const logger = options.logger ?? NODE_WARNINGS;
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new RuntimeError("VALIDATION_FAILED", `${dir}: profile folder does not exist`);
  }
  const folders = await listFolder(dir, ({ name, isDirectory }) => isDirectory && !name.startsWith("."));
  const profiles = await Promise.all(
    folders.map((folder) => loadProfileFolder(join(dir, folder), folder, logger)),
  );
  const folderById = new Map<string, string>();
  for (const [index, profile] of profiles.entries()) {
    const folder = folders[index]!;
    const earlier = folderById.get(profile.id);
    if (earlier !== undefined) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `${dir}: profile id "${profile.id}" is used by both ${earlier}/ and ${folder}/`,
      );
    }
    folderById.set(profile.id, folder);
  }
  return profiles;
}

/** Deprecation warnings as Node.js warnings, for callers that give no logger. */
const NODE_WARNINGS: ProfileLogger = {
  warn: (_fields, message) => process.emitWarning(message, "DeprecationWarning"),
};

async function loadProfileFolder(
  folder: string,
  folderName: string,
  logger: ProfileLogger,
): Promise<AgentProfile> {
  const { manifest, manifestPath } = await readManifest(folder);
  const fields: Record<string, unknown> = {
    id: folderName,
    ...migrateProfileAliases(await withProjectFiles(manifest, folder, manifestPath), manifestPath, logger),
  };

  const agentMD = await readAlternatives(folder, ["CLAUDE.md", "AGENTS.md"]);
  if (agentMD) setOnce(fields, "agentMDFile", agentMD.content, agentMD.path, manifestPath);
  const systemPromptPath = join(folder, "system-prompt.md");
  const systemPrompt = await readOptionalTextFile(systemPromptPath);
  if (systemPrompt !== null) setOnce(fields, "systemPrompt", systemPrompt, systemPromptPath, manifestPath);

  append(fields, "skills", await readSkills(join(folder, "skills")));
  append(fields, "subagents", await readSubagents(join(folder, "agents")));
  append(fields, "commands", await readCommands(join(folder, "commands")));
  append(fields, "defaultFiles", await readTextFilesRecursively(join(folder, "files")));
  await readBundledProjects(join(folder, "mcp"), fields, manifestPath);

  const profile = validateAgentProfile(fields, manifestPath);
  for (const key of ["skills", "subagents", "commands"] as const) {
    assertUniqueNames(profile[key], `${manifestPath}: ${key}`);
  }
  assertUniqueNames(
    profile.defaultFiles.map((file) => ({ name: file.path })),
    `${manifestPath}: defaultFiles`,
  );
  return profile;
}

/**
 * The manifest with each of the original system's `bundledMCPs` given the
 * files of its `localProjectPath` (relative to the profile folder, and inside
 * it), for `migrateProfileAliases` to map.
 */
async function withProjectFiles(
  manifest: Record<string, unknown>,
  folder: string,
  manifestPath: string,
): Promise<Record<string, unknown>> {
  if (!Array.isArray(manifest.bundledMCPs)) return manifest;
  const projects = await Promise.all(
    manifest.bundledMCPs.map(async (project: unknown, index) => {
      if (!isRecord(project) || typeof project.localProjectPath !== "string" || project.files !== undefined) {
        return project;
      }
      const path = resolve(folder, project.localProjectPath);
      if (!isWithin(resolve(folder), path)) {
        throw new RuntimeError(
          "VALIDATION_FAILED",
          `${manifestPath}: bundledMCPs.${index}.localProjectPath: must be a folder inside the profile folder`,
        );
      }
      return { ...project, files: await readProjectFiles(path) };
    }),
  );
  return { ...manifest, bundledMCPs: projects };
}

/** A bundled MCP project's files, without what installs make and version control. */
function readProjectFiles(dir: string) {
  return readTextFilesRecursively(dir, (path) =>
    path.split("/").every((segment) => !PROJECT_SKIPPED.has(segment)),
  );
}

/** Folders of a bundled MCP project that are never its source: what installs make, and version control. */
const PROJECT_SKIPPED = new Set(["node_modules", ".git", ".venv", ".python", "__pycache__"]);

/**
 * Reads each `mcp/<name>/` folder into the files of the manifest's bundled
 * server `<name>`. Throws `VALIDATION_FAILED` for a folder whose server the
 * manifest does not declare as bundled, and for a bundled server given
 * files both in the manifest and as a folder.
 */
async function readBundledProjects(mcpDir: string, fields: Record<string, unknown>, manifestPath: string) {
  const names = await listFolder(mcpDir, ({ name, isDirectory }) => isDirectory && !name.startsWith("."));
  if (names.length === 0) return;
  const servers = isRecord(fields.mcpServers) ? { ...fields.mcpServers } : {};
  for (const name of names) {
    const server = servers[name];
    if (!isRecord(server) || server.type !== "bundled") {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `${manifestPath}: mcp/${name}/ is a bundled MCP project, but mcpServers.${name} is not declared ` +
          `with "type": "bundled" (and its "command")`,
      );
    }
    if (server.files !== undefined) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `${manifestPath}: mcpServers.${name}.files is set and mcp/${name}/ exists; keep one`,
      );
    }
    const files = await readProjectFiles(join(mcpDir, name));
    servers[name] = { ...server, files };
  }
  fields.mcpServers = servers;
}

async function readManifest(
  folder: string,
): Promise<{ manifest: Record<string, unknown>; manifestPath: string }> {
  const jsonPath = join(folder, "profile.json");
  const yamlPath = join(folder, "profile.yaml");
  const [jsonText, yamlText] = await Promise.all([
    readOptionalTextFile(jsonPath),
    readOptionalTextFile(yamlPath),
  ]);
  if (jsonText !== null && yamlText !== null) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `${folder}: has both profile.json and profile.yaml; keep one`,
    );
  }
  if (jsonText === null && yamlText === null) {
    throw new RuntimeError("VALIDATION_FAILED", `${folder}: missing profile.json (or profile.yaml)`);
  }
  const manifestPath = jsonText === null ? yamlPath : jsonPath;
  let manifest: unknown;
  try {
    manifest = jsonText === null ? parseYaml(yamlText ?? "") : JSON.parse(jsonText);
  } catch (error) {
    const format = jsonText === null ? "YAML" : "JSON";
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `${manifestPath}: invalid ${format}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  if (!isRecord(manifest)) {
    throw new RuntimeError("VALIDATION_FAILED", `${manifestPath}: must be an object of profile fields`);
  }
  return { manifest, manifestPath };
}

async function readSkills(skillsDir: string): Promise<Skill[]> {
  const names = await listFolder(skillsDir, ({ name, isDirectory }) => isDirectory && !name.startsWith("."));
  return Promise.all(
    names.map(async (folderName) => {
      const skillDir = join(skillsDir, folderName);
      const source = join(skillDir, "SKILL.md");
      const text = await readOptionalTextFile(source);
      if (text === null) throw new RuntimeError("VALIDATION_FAILED", `${source}: missing`);
      const { attributes, body } = frontMatter(text, source, ["name", "description"]);
      assertNameMatches(attributes.name, folderName, source, "the folder name");
      const files = (await readTextFilesRecursively(skillDir)).filter((file) => file.path !== "SKILL.md");
      return validateInput(
        skillSchema,
        { name: folderName, description: attributes.description, content: body, files },
        source,
      );
    }),
  );
}

async function readSubagents(agentsDir: string): Promise<SubagentDefinition[]> {
  return Promise.all(
    (await listMarkdownFiles(agentsDir)).map(async ({ name, path }) => {
      const { attributes, body } = frontMatter(await readTextFile(path), path, [
        "name",
        "description",
        "tools",
        "model",
      ]);
      assertNameMatches(attributes.name, name, path, "the file name");
      return validateInput(
        subagentDefinitionSchema,
        {
          name,
          description: attributes.description,
          prompt: body,
          tools: typeof attributes.tools === "string" ? splitList(attributes.tools) : attributes.tools,
          model: attributes.model,
        },
        path,
      );
    }),
  );
}

async function readCommands(commandsDir: string): Promise<Command[]> {
  return Promise.all(
    (await listMarkdownFiles(commandsDir)).map(async ({ name, path }) => {
      const { attributes, body } = frontMatter(await readTextFile(path), path, ["description"]);
      return validateInput(commandSchema, { name, description: attributes.description, prompt: body }, path);
    }),
  );
}

/** `splitFrontMatter`, refusing attributes other than `known`: the runtime writes these files anew from its fields. */
function frontMatter(text: string, source: string, known: readonly string[]): FrontMatterDocument {
  const document = splitFrontMatter(text, source);
  const unknown = Object.keys(document.attributes).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `${source}: unknown front matter field ${unknown.map((key) => JSON.stringify(key)).join(", ")}; known fields: ${known.join(", ")}`,
    );
  }
  return document;
}

async function listMarkdownFiles(dir: string): Promise<Array<{ name: string; path: string }>> {
  const files = await listFolder(dir, ({ name, isDirectory }) => !isDirectory && name.endsWith(".md"));
  return files.map((file) => ({ name: file.slice(0, -".md".length), path: join(dir, file) }));
}

/** Reads the first existing file of `names`; more than one existing is an error. */
async function readAlternatives(
  folder: string,
  names: string[],
): Promise<{ path: string; content: string } | null> {
  const found: Array<{ path: string; content: string }> = [];
  for (const name of names) {
    const path = join(folder, name);
    const content = await readOptionalTextFile(path);
    if (content !== null) found.push({ path, content });
  }
  if (found.length > 1) {
    throw new RuntimeError("VALIDATION_FAILED", `${folder}: has both ${names.join(" and ")}; keep one`);
  }
  return found[0] ?? null;
}

function setOnce(
  fields: Record<string, unknown>,
  key: string,
  value: string,
  path: string,
  manifestPath: string,
) {
  if (fields[key] !== undefined) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `${manifestPath}: ${key} is set here and by ${path}; keep one`,
    );
  }
  fields[key] = value;
}

/** Appends items read from files to the manifest's list; a non-list manifest value is left for validation to report. */
function append(fields: Record<string, unknown>, key: string, items: unknown[]) {
  if (items.length === 0) return;
  const listed = fields[key];
  if (listed === undefined) fields[key] = items;
  else if (Array.isArray(listed)) fields[key] = [...listed, ...items];
}

function assertNameMatches(declared: unknown, expected: string, source: string, what: string) {
  if (declared !== undefined && declared !== expected) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `${source}: name: "${String(declared)}" differs from ${what} "${expected}"`,
    );
  }
}

function assertUniqueNames(items: ReadonlyArray<{ name: string }>, source: string) {
  const seen = new Set<string>();
  for (const { name } of items) {
    if (seen.has(name)) throw new RuntimeError("VALIDATION_FAILED", `${source}: "${name}" is defined twice`);
    seen.add(name);
  }
}

/** `Read, Grep, Bash(git diff:*)` → `["Read", "Grep", "Bash(git diff:*)"]` (Claude Code's front matter style). */
function splitList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}
