import { sendMessageRequestSchema } from "@agent-runtime/protocol";
import type { SeededRandom } from "./seeded-random.js";

/** The part of a JSON schema (as the server's OpenAPI document writes it) the fuzzer reads. */
export interface JsonSchema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
}

interface OpenApiParameter {
  readonly in: string;
  readonly name: string;
  readonly schema?: JsonSchema;
}

interface OpenApiOperation {
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: { readonly content?: Readonly<Record<string, { readonly schema?: JsonSchema }>> };
}

export interface OpenApiDocument {
  readonly paths: Readonly<Record<string, Readonly<Record<string, OpenApiOperation>>>>;
}

/** One operation of the document: `POST /sessions/{id}/messages` and what it takes. */
export interface Operation {
  readonly method: string;
  readonly template: string;
  readonly parameters: readonly OpenApiParameter[];
  readonly body?: JsonSchema;
}

/** What exists on the server, so that requests reach past the 404s. */
export interface FuzzTargets {
  /** Sessions that exist; the first is protected from deletion and receives the few real messages. */
  readonly sessionIds: string[];
  readonly profileIds: readonly string[];
  /** Workspace paths worth asking for (the odd entries, known files). */
  readonly filePaths: readonly string[];
}

export interface FuzzRequest {
  /** The operation it was made from (`POST /sessions`), for the statistics. */
  readonly operation: string;
  /** How it was made hostile (`extra-field`, `deep`, …). */
  readonly mutation: string;
  readonly method: string;
  /** Path and query, already encoded. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** Every operation of the document, in document order. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const body = operation.requestBody?.content?.["application/json"]?.schema;
      operations.push({
        method: method.toUpperCase(),
        template,
        parameters: operation.parameters ?? [],
        ...(body ? { body } : {}),
      });
    }
  }
  return operations;
}

/** Strings that break naive code: empty, boundaries, control and odd characters, injections, traversal. */
const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "😀👩‍👩‍👧‍👦",
  "\u202etxt.exe",
  "\r\nX-Injected: 1",
  "../../../../etc/passwd",
  "..",
  ".",
  "/",
  "%2e%2e%2f%2e%2e%2f",
  "%00",
  "\\..\\..\\windows",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "<script>alert(1)</script>",
  "$\u007b7*7}{{7*7}}",
  "' OR 1=1 --",
  "NaN",
  "-1",
  "1e400",
  "null",
  "true",
  "a".repeat(199),
  "a".repeat(200),
  "a".repeat(201),
  "a".repeat(255),
  "a".repeat(256),
  "a".repeat(1100),
  "a".repeat(4097),
];

/** Values of the wrong type for any field. */
const WRONG_TYPES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  Number.MAX_SAFE_INTEGER + 2,
  "text",
  [],
  [1, "two", null],
  {},
  { nested: { deeper: [1, 2, 3] } },
];

/** Bodies that are not what any schema wants, as raw text. */
const RAW_BODIES: readonly string[] = [
  "",
  "{",
  '{"a":',
  "null",
  "[]",
  "0",
  '"string"',
  "\uFEFF{}",
  '{"content":"\\ud800"}',
  '{"content":"x","content":"y"}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  "1".repeat(10_000),
  "\u0000\u0001\u0002",
  '{"a":1}garbage',
];

const CONTENT_TYPES: readonly (string | undefined)[] = [
  undefined,
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "application/xml",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/json; charset=utf-16",
  "application/vnd.api+json",
  "application/json, text/plain",
  "",
  "garbage",
];

const ACCEPTS: readonly string[] = ["text/event-stream", "*/*", "text/html", "application/xml", "", "\u00ff"];
const OTHER_METHODS: readonly string[] = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
/** Nesting depths around the server's limit (32) and far past it. */
const DEPTHS: readonly number[] = [5, 31, 32, 33, 200, 100_000];
const HUGE_LENGTHS: readonly number[] = [1_000, 100_000, 1_000_000, 4_000_000];

/** Stands for a deeply nested value in a body until it is written out as text (no stack is deep enough to stringify it). */
const deepMarker = (depth: number) => `\u0000deep:${depth}\u0000`;

function nestedText(depth: number): string {
  return `${"[".repeat(depth)}${"]".repeat(depth)}`;
}

/** JSON text of `value`, with every `deepMarker` replaced by its nesting. */
function toJsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000deep:(\d+)\\u0000"/g, (_, depth: string) =>
    nestedText(Number(depth)),
  );
}

/** A value that satisfies `schema` (mostly), with names from `targets` where a field asks for one. */
function validValue(schema: JsonSchema, rng: SeededRandom, targets: FuzzTargets, key = ""): unknown {
  if (schema.enum?.length) return rng.pick(schema.enum);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants?.length) return validValue(rng.pick(variants), rng, targets, key);
  switch (schema.type) {
    case "object": {
      const value: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (schema.required?.includes(name) || rng.chance(0.5))
          value[name] = validValue(property, rng, targets, name);
      }
      return value;
    }
    case "array":
      return Array.from({ length: rng.int(0, 3) }, () => validValue(schema.items ?? {}, rng, targets, key));
    case "integer":
    case "number":
      return rng.int(schema.minimum ?? 0, Math.min(schema.maximum ?? 100, (schema.minimum ?? 0) + 100));
    case "boolean":
      return rng.chance(0.5);
    case "string": {
      if (key === "agentProfileRef") return rng.pick(targets.profileIds);
      const min = Math.max(1, schema.minLength ?? 0);
      return "w".repeat(rng.int(min, Math.max(min, Math.min(schema.maxLength ?? 40, 40))));
    }
    default:
      return rng.pick(WRONG_TYPES);
  }
}

/** The object properties of `value` at any depth, as a list of [holder, key]. */
function slots(
  value: unknown,
  found: [Record<string, unknown>, string][] = [],
): [Record<string, unknown>, string][] {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    for (const key of Object.keys(value)) {
      found.push([value as Record<string, unknown>, key]);
      slots((value as Record<string, unknown>)[key], found);
    }
  }
  return found;
}

/** A body for `schema`, made hostile in one of several ways (`mutation` says which). */
function hostileBody(
  schema: JsonSchema,
  rng: SeededRandom,
  targets: FuzzTargets,
): { mutation: string; text: string } {
  const value = validValue(schema, rng, targets);
  const holders = slots(value);
  const somewhere = (): [Record<string, unknown>, string] | undefined =>
    holders.length > 0 ? rng.pick(holders) : undefined;
  const mutation = rng.pick([
    "valid",
    "valid",
    "extra-field",
    "extra-field",
    "missing-field",
    "wrong-type",
    "wrong-type",
    "hostile-string",
    "huge-string",
    "deep",
    "many-keys",
    "raw",
    "too-large",
  ]);
  switch (mutation) {
    case "extra-field": {
      const holder = rng.chance(0.5) ? somewhere()?.[0] : undefined;
      const target = holder ?? (value as Record<string, unknown>);
      const key = rng.pick(["pad", "__proto__", "constructor", "", "x".repeat(1000), "sessionOptions", "é"]);
      if (typeof target === "object" && target !== null) {
        Object.defineProperty(target, key, {
          value: rng.chance(0.5) ? "x".repeat(rng.pick([1, 1000, 500_000])) : rng.pick(WRONG_TYPES),
          enumerable: true,
          configurable: true,
          writable: true,
        });
      }
      break;
    }
    case "missing-field": {
      const slot = somewhere();
      if (slot) delete slot[0][slot[1]];
      break;
    }
    case "wrong-type": {
      const slot = somewhere();
      if (slot) slot[0][slot[1]] = rng.pick(WRONG_TYPES);
      else return { mutation, text: toJsonText(rng.pick(WRONG_TYPES)) };
      break;
    }
    case "hostile-string": {
      const slot = somewhere();
      if (slot) slot[0][slot[1]] = rng.pick(HOSTILE_STRINGS);
      break;
    }
    case "huge-string": {
      const slot = somewhere();
      if (slot) slot[0][slot[1]] = "h".repeat(rng.pick(HUGE_LENGTHS));
      break;
    }
    case "deep": {
      const slot = somewhere();
      const depth = rng.pick(DEPTHS);
      if (slot && rng.chance(0.7)) slot[0][slot[1]] = deepMarker(depth);
      else return { mutation, text: nestedText(depth) };
      break;
    }
    case "many-keys":
      return {
        mutation,
        text: toJsonText(
          Object.fromEntries(Array.from({ length: rng.pick([1_000, 50_000]) }, (_, i) => [`k${i}`, i])),
        ),
      };
    case "raw":
      return { mutation, text: rng.pick(RAW_BODIES) };
    case "too-large":
      // Rare: each one moves 11 MB.
      if (rng.chance(0.1)) return { mutation, text: `{"content":"${"L".repeat(11 * 1024 * 1024)}"}` };
      break;
  }
  return { mutation, text: toJsonText(value) };
}

/** A path parameter: mostly one that exists, else a hostile string; encoded, or now and then raw. */
function pathValue(name: string, template: string, rng: SeededRandom, targets: FuzzTargets): string {
  if (name === "*") {
    const path = rng.chance(0.7)
      ? rng.pick(targets.filePaths)
      : rng.pick([...HOSTILE_STRINGS, "a/".repeat(1000), `${"b".repeat(255)}/${"c".repeat(256)}`]);
    return rng.chance(0.85) ? path.split("/").map(encodeSegment).join("/") : path;
  }
  const known =
    name === "id" && template.startsWith("/sessions")
      ? targets.sessionIds
      : name === "id"
        ? targets.profileIds
        : [];
  const value = known.length > 0 && rng.chance(0.75) ? rng.pick(known) : rng.pick(HOSTILE_STRINGS);
  return rng.chance(0.9) ? encodeSegment(value) : value;
}

/** `encodeURIComponent`, with a lone surrogate (which it refuses) as U+FFFD. */
function encodeSegment(value: string): string {
  return encodeURIComponent(value.toWellFormed());
}

/** A query value for `schema`: valid, or out of range, of the wrong type, empty or huge. */
function queryValue(schema: JsonSchema | undefined, rng: SeededRandom): string {
  if (rng.chance(0.6))
    return String(validValue(schema ?? {}, rng, { sessionIds: [], profileIds: ["x"], filePaths: [] }));
  return rng.pick([
    "",
    "-1",
    "0",
    "1e9",
    "9007199254740993",
    "abc",
    "1.5",
    "%00",
    "x".repeat(5000),
    "[]",
    "{}",
  ]);
}

/** One random, mostly hostile request for `operation`. */
export function fuzzRequest(operation: Operation, rng: SeededRandom, targets: FuzzTargets): FuzzRequest {
  const { template } = operation;
  let path = template.replace(/\{([^}]+)\}/g, (_, name: string) => pathValue(name, template, rng, targets));
  const query = new URLSearchParams();
  for (const parameter of operation.parameters) {
    if (parameter.in === "query" && rng.chance(0.6))
      query.append(parameter.name, queryValue(parameter.schema, rng));
  }
  if (rng.chance(0.1))
    query.append(rng.pick(["pad", "__proto__", "limit", "after", ""]), rng.pick(["1", "x".repeat(2000)]));
  if ([...query.keys()].length > 0) path += `?${query}`;

  const headers: Record<string, string> = {
    accept: rng.chance(0.85) ? "application/json" : rng.pick(ACCEPTS),
  };
  if (rng.chance(0.1)) headers["last-event-id"] = rng.pick(["0", "-5", "999999999999", "abc", "1e3", ""]);
  if (rng.chance(0.05))
    headers.authorization = rng.pick(["Bearer", "Bearer x", "Basic Zm9vOmJhcg==", "x".repeat(1000)]);
  if (rng.chance(0.03)) headers["x-padding"] = "p".repeat(rng.pick([8_000, 20_000]));

  const method = rng.chance(0.95) ? operation.method : rng.pick(OTHER_METHODS);
  let mutation = "none";
  let body: string | undefined;
  if (operation.body && method !== "GET" && method !== "HEAD") {
    const made = hostileBody(operation.body, rng, targets);
    mutation = made.mutation;
    body = made.text;
    const contentType = rng.chance(0.85) ? "application/json" : rng.pick(CONTENT_TYPES);
    if (contentType !== undefined) headers["content-type"] = contentType;
  } else if (method === "POST" && rng.chance(0.2)) {
    mutation = "unexpected-body";
    body = rng.pick(RAW_BODIES);
    headers["content-type"] = "application/json";
  }
  return {
    operation: `${operation.method} ${template}`,
    mutation,
    method,
    path,
    headers,
    ...(body === undefined ? {} : { body }),
  };
}

/** True for a request that would start a real agent turn (a valid message to an existing session). */
export function startsATurn(request: FuzzRequest, targets: FuzzTargets): boolean {
  const match = /^\/sessions\/([^/?]+)\/messages?(\?|$)/.exec(request.path);
  if (request.method !== "POST" || !match?.[1] || request.body === undefined) return false;
  if (!request.headers["content-type"]?.toLowerCase().startsWith("application/json")) return false;
  try {
    if (!targets.sessionIds.includes(decodeURIComponent(match[1]))) return false;
    return sendMessageRequestSchema.safeParse(JSON.parse(request.body)).success;
  } catch {
    return false; // Not a URI component or not JSON: it starts nothing.
  }
}
