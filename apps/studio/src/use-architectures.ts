import type { ArchitectureInfo } from "@agent-runtime/protocol";
import { useAgentClient } from "@agent-runtime/react";
import { useEffect, useState } from "react";

export type ArchitecturesState =
  | { readonly state: "loading" }
  | { readonly state: "ready"; readonly architectures: readonly ArchitectureInfo[] }
  | { readonly state: "failed"; readonly message: string };

/** The server's architectures and capabilities (`client.architectures()`, fetched once per client). */
export function useArchitectures(): ArchitecturesState {
  const client = useAgentClient();
  const [state, setState] = useState<ArchitecturesState>({ state: "loading" });
  useEffect(() => {
    let live = true;
    client
      .architectures()
      .then((architectures) => live && setState({ state: "ready", architectures }))
      .catch((failure: unknown) => live && setState({ state: "failed", message: String(failure) }));
    return () => {
      live = false;
    };
  }, [client]);
  return state;
}
