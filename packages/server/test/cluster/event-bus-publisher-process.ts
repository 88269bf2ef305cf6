/**
 * A second node for the event bus tests, as its own process: publishes
 * `COUNT` delta events of `SESSION` under fencing token `TOKEN`, starting
 * after the stream's last seq, and prints `published <last seq>` or
 * `refused <code>` before it exits.
 */
import { ClusterError } from "../../src/cluster/cluster-error.js";
import { ClusterEventBus } from "../../src/cluster/cluster-event-bus.js";
import { deltaEvent } from "./session-events.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const bus = await ClusterEventBus.connect({ redisUrl: env("REDIS_URL"), keyPrefix: env("KEY_PREFIX") });
const sessionId = env("SESSION");
const token = Number(env("TOKEN"));
try {
  await bus.fence(sessionId, token);
  let seq = (await bus.lastSeq(sessionId)) ?? 0;
  for (let sent = 0; sent < Number(env("COUNT")); sent++) {
    seq += 1;
    await bus.publish(token, deltaEvent(sessionId, seq, `from process ${process.pid}`));
  }
  console.log(`published ${seq}`);
} catch (error) {
  if (!ClusterError.is(error)) throw error;
  console.log(`refused ${error.code}`);
} finally {
  await bus.close();
}
