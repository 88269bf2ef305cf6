import { AgentRuntimeError, RestClient } from "@agent-runtime/client";
import type { HealthResponse } from "@agent-runtime/protocol";
import { AgentServiceProvider } from "@agent-runtime/react";
import { useCallback, useEffect, useState } from "react";
import { loadApiKey, saveApiKey } from "../api-key.js";
import { ApiKeyForm } from "./ApiKeyForm.js";
import { Shell } from "./Shell.js";

/** The Studio talks to the server that served it. */
const apiUrl = window.location.origin;

type HealthState =
  | { readonly state: "loading" }
  | { readonly state: "ready"; readonly health: HealthResponse }
  | { readonly state: "failed"; readonly message: string };

/**
 * Root: reads `/health`, asks for an API key when the server requires one
 * (kept in localStorage), then renders the Studio inside one
 * `AgentServiceProvider`.
 */
export function App() {
  const [health, setHealth] = useState<HealthState>({ state: "loading" });
  const [apiKey, setApiKey] = useState(loadApiKey);
  const [keyProblem, setKeyProblem] = useState<string | undefined>(undefined);

  const checkHealth = useCallback(() => {
    setHealth({ state: "loading" });
    new RestClient({ apiUrl })
      .health()
      .then((result) => setHealth({ state: "ready", health: result }))
      .catch((error: unknown) =>
        setHealth({ state: "failed", message: AgentRuntimeError.is(error) ? error.message : String(error) }),
      );
  }, []);
  useEffect(checkHealth, [checkHealth]);

  const acceptKey = useCallback((key: string) => {
    saveApiKey(key);
    setApiKey(key);
    setKeyProblem(undefined);
  }, []);
  const forgetKey = useCallback((problem?: string) => {
    saveApiKey(undefined);
    setApiKey(undefined);
    setKeyProblem(problem);
  }, []);

  if (health.state === "loading") return <div className="splash">Connecting…</div>;
  if (health.state === "failed") {
    return (
      <div className="splash">
        <p>Cannot reach the Agent Runtime server.</p>
        <p className="muted">{health.message}</p>
        <button type="button" className="button" onClick={checkHealth}>
          Try again
        </button>
      </div>
    );
  }
  const { authRequired, demoModel, version } = health.health;
  if (authRequired && !apiKey) {
    return <ApiKeyForm apiUrl={apiUrl} problem={keyProblem} onAccept={acceptKey} />;
  }
  return (
    <AgentServiceProvider apiUrl={apiUrl} {...(authRequired && apiKey ? { apiKey } : {})}>
      <Shell demoModel={demoModel} version={version} {...(authRequired ? { onForgetKey: forgetKey } : {})} />
    </AgentServiceProvider>
  );
}
