import { readFile, stat } from "node:fs/promises";
import { type TenantQuota, type TenantQuotas, tenantQuotasSchema } from "@agent-runtime/protocol";
import { errorMessage, RuntimeError } from "../errors.js";
import { describeZodIssues } from "../profiles/validate-input.js";

/** Largest quotas file read. */
const MAX_FILE_BYTES = 1024 * 1024;

/** The parsed `--quota*` options of `serve`. */
export interface QuotaCliValues {
  readonly quotasFile?: unknown;
  readonly quotaSessions?: unknown;
  readonly quotaRunningSandboxes?: unknown;
  readonly quotaMessagesPerMinute?: unknown;
  readonly quotaStoredBytes?: unknown;
}

/**
 * The tenant quotas of `--quotas-file` (JSON `{"default": {...}, "tenants":
 * {"acme": {...}}}`, see `TenantQuotas`) with the `--quota-*` flags over
 * its `default`, field by field. Throws `VALIDATION_FAILED` naming the file
 * or flag for what cannot be read or is invalid.
 */
export async function quotaOptions(values: QuotaCliValues): Promise<TenantQuotas> {
  const file =
    typeof values.quotasFile === "string" && values.quotasFile !== "" ? values.quotasFile : undefined;
  const fromFile = file === undefined ? {} : await readQuotasFile(file);
  const flags: TenantQuota = {
    ...flag("sessions", values.quotaSessions),
    ...flag("runningSandboxes", values.quotaRunningSandboxes),
    ...flag("messagesPerMinute", values.quotaMessagesPerMinute),
    ...flag("storedBytes", values.quotaStoredBytes),
  };
  const merged = {
    ...fromFile,
    ...(Object.keys(flags).length > 0 ? { default: { ...fromFile.default, ...flags } } : {}),
  };
  const parsed = tenantQuotasSchema.safeParse(merged);
  if (!parsed.success)
    throw new RuntimeError("VALIDATION_FAILED", `--quota-*: ${describeZodIssues(parsed.error)}`);
  return parsed.data;
}

function flag(name: keyof TenantQuota, value: unknown): TenantQuota {
  return value === undefined ? {} : { [name]: value };
}

async function readQuotasFile(path: string): Promise<TenantQuotas> {
  let value: unknown;
  try {
    if ((await stat(path)).size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new RuntimeError("VALIDATION_FAILED", `Quotas file ${path}: ${errorMessage(error)}`);
  }
  const parsed = tenantQuotasSchema.safeParse(value);
  if (!parsed.success)
    throw new RuntimeError("VALIDATION_FAILED", `Quotas file ${path}: ${describeZodIssues(parsed.error)}`);
  return parsed.data;
}
