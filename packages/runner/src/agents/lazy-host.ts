import type { AgentHost, AgentHostFactory } from "./agent-host.js";

/**
 * A host factory whose module is loaded by `start`, not before: the runner
 * of a Claude session then never loads OpenCode's client, nor the other way
 * round, which spares each runner the time and memory of the code it does
 * not run. Behaves as the loaded host does: `send` is only called after
 * `start` resolved (see `AgentHost`); `interrupt` before then is a no-op,
 * as for an idle host; `close` before then waits for the load to finish and
 * closes whatever it created. `start` rejects when the module cannot be loaded.
 */
export function lazyHost(load: () => Promise<AgentHostFactory>): AgentHostFactory {
  return (config, events) => {
    let host: AgentHost | undefined;
    let loading: Promise<AgentHost> | undefined;
    let closed = false;
    const loaded = (): Promise<AgentHost> => {
      loading ??= load().then((factory) => {
        host = factory(config, events);
        return host;
      });
      return loading;
    };
    return {
      async start() {
        const started = await loaded();
        if (closed) throw new Error("the runner closed the agent before it started");
        return started.start();
      },
      send(turnId, content, images) {
        if (!host) throw new Error("send before start");
        host.send(turnId, content, images);
      },
      respondPermission(requestId, decision, message) {
        host?.respondPermission(requestId, decision, message);
      },
      async warmUp() {
        await host?.warmUp?.();
      },
      async setModel(model) {
        if (!host?.setModel) throw new Error("this agent cannot change its model while it runs");
        await host.setModel(model);
      },
      async interrupt() {
        await host?.interrupt();
      },
      async close() {
        closed = true;
        if (!loading) return;
        const created = await loading.catch(() => undefined);
        await created?.close();
      },
    };
  };
}
