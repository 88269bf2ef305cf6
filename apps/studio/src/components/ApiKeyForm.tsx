import { AgentRuntimeError, RestClient } from "@agent-runtime/client";
import { type FormEvent, useState } from "react";

interface ApiKeyFormProps {
  readonly apiUrl: string;
  /** Why a key is asked for again (e.g. the stored one was refused). */
  readonly problem: string | undefined;
  /** Called with a key the server accepted. */
  onAccept(key: string): void;
}

/** Asks for the server's API key and checks it (`GET /sessions`) before accepting it. */
export function ApiKeyForm({ apiUrl, problem, onAccept }: ApiKeyFormProps) {
  const [key, setKey] = useState("");
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<string | undefined>(problem);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const candidate = key.trim();
    if (!candidate) return;
    setChecking(true);
    setError(undefined);
    try {
      await new RestClient({ apiUrl, apiKey: candidate }).listSessions();
      onAccept(candidate);
    } catch (failure) {
      const refused = AgentRuntimeError.is(failure) && failure.code === "UNAUTHORIZED";
      setError(refused ? "The server did not accept this key." : String(failure));
      setChecking(false);
    }
  };

  return (
    <div className="splash">
      <form className="card key-form" onSubmit={submit}>
        <h1>Agent Runtime Studio</h1>
        <p className="muted">This server requires an API key. It is kept in this browser only.</p>
        <label className="field">
          <span>API key</span>
          <input
            type="password"
            autoComplete="current-password"
            value={key}
            onChange={(event) => setKey(event.target.value)}
            placeholder="Bearer key"
            // biome-ignore lint/a11y/noAutofocus: the only input on the page
            autoFocus
          />
        </label>
        {error ? <p className="form-error">{error}</p> : null}
        <button type="submit" className="button primary" disabled={checking || !key.trim()}>
          {checking ? "Checking…" : "Continue"}
        </button>
      </form>
    </div>
  );
}
