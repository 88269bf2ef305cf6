import { z } from "zod";

/**
 * Session ids as they reach the cluster's shared state (lease rows, Redis
 * keys, channel names): bounded, and without the braces of Redis hash tags
 * or anything a key or a log line could trip on. The runtime's ids (UUIDs)
 * all pass.
 */
export const sessionIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,200}$/, "1-200 letters, digits, '.', '_', ':' or '-'");

/** A node's id (`--node-id`): unique in the cluster, stable across its restarts. */
export const nodeIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, "1-64 letters, digits, '.', '_' or '-'");

/** A prefix for every Redis key and channel of one cluster, so several clusters can share a Redis. */
export const keyPrefixSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{0,100}$/, "at most 100 letters, digits, '.', '_', ':' or '-'");

/** `redis://` or `rediss://` (TLS), with credentials and database number as Redis URLs take them. */
export const redisUrlSchema = z
  .string()
  .max(2_000)
  .refine((value) => /^rediss?:\/\//.test(value) && URL.canParse(value), "a redis:// or rediss:// URL");
