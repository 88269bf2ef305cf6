import { AgentRuntimeError, RestClient } from "@agent-runtime/client";
import type { HealthResponse } from "@agent-runtime/protocol";
import { AgentServiceProvider } from "@agent-runtime/react";
import { useCallback, useEffect, useState } from "react";
import { forgetToken, loadApiKey, saveApiKey, takeToken } from "../api-key.js";
import { apiUrl } from "../base-path.js";
import { ApiKeyForm } from "./ApiKeyForm.js";
import { Shell } from "./Shell.js";

type HealthState =
  | { readonly state: "loading" }
  | { readonly state: "ready"; readonly health: HealthResponse }
  | { readonly state: "failed"; readonly message: string };

/**
 * Root: reads `/health`, asks for an API key when the server requires one
 * (kept in localStorage) unless a browser token came in the address
 * (`?token=`, kept for this tab; see `takeToken`), then renders the Studio
 * inside one `AgentServiceProvider`. With a token, the server shows the
 * Studio only what the token reaches (its tenant's sessions).
 */
export function App() {
  const [health, setHealth] = useState<HealthState>({ state: "loading" });
  const [apiKey, setApiKey] = useState(loadApiKey);
  const [token, setToken] = useState(takeToken);
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
  const dropToken = useCallback((problem?: string) => {
    forgetToken();
    setToken(undefined);
    setKeyProblem(
      problem && "The server no longer accepts the token; open the Studio with a new one, or enter a key.",
    );
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
  if (token) {
    return (
      <AgentServiceProvider apiUrl={apiUrl} token={token}>
        <Shell demoModel={demoModel} version={version} onForgetKey={dropToken} />
      </AgentServiceProvider>
    );
  }
  if (authRequired && !apiKey) {
    return <ApiKeyForm apiUrl={apiUrl} problem={keyProblem} onAccept={acceptKey} />;
  }
  return (
    <AgentServiceProvider apiUrl={apiUrl} {...(authRequired && apiKey ? { apiKey } : {})}>
      <Shell demoModel={demoModel} version={version} {...(authRequired ? { onForgetKey: forgetKey } : {})} />
    </AgentServiceProvider>
  );
}
