import { AgentRuntimeError } from "@agent-runtime/client";
import type { AgentProfileSummary, Architecture } from "@agent-runtime/protocol";
import { useAgentClient } from "@agent-runtime/react";
import { type FormEvent, useEffect, useState } from "react";
import { architectureLabel } from "../architectures.js";
import { useArchitectures } from "../use-architectures.js";

interface NewSessionFormProps {
  readonly demoModel: boolean;
  onCreated(sessionId: string): void;
}

/**
 * Creates a session from a profile, one of the server's architectures and an
 * optional model. Offers "ask before each tool call" only for architectures
 * that support permissions. No sandbox starts until the first message.
 */
export function NewSessionForm({ demoModel, onCreated }: NewSessionFormProps) {
  const client = useAgentClient();
  const [profiles, setProfiles] = useState<readonly AgentProfileSummary[] | undefined>(undefined);
  const [profileId, setProfileId] = useState("");
  const architectures = useArchitectures();
  const [chosenArchitecture, setArchitecture] = useState<Architecture | undefined>(undefined);
  const [model, setModel] = useState("");
  const [askPermissions, setAskPermissions] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    let live = true;
    client.rest
      .listProfiles()
      .then((list) => {
        if (!live) return;
        setProfiles(list);
        setProfileId((current) => current || list[0]?.id || "");
      })
      .catch((failure: unknown) => live && setError(`Could not load profiles: ${String(failure)}`));
    return () => {
      live = false;
    };
  }, [client]);

  const offered = architectures.state === "ready" ? architectures.architectures : [];
  const selectedArchitecture = offered.find((a) => a.id === chosenArchitecture) ?? offered[0];
  const canAsk = selectedArchitecture?.capabilities.permissions === true;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!profileId || !selectedArchitecture) return;
    setBusy(true);
    setError(undefined);
    try {
      const created = await client.createSession({
        agentProfileRef: profileId,
        architecture: selectedArchitecture.id,
        sessionOptions: {
          ...(model.trim() ? { model: model.trim() } : {}),
          ...(canAsk && askPermissions ? { permissions: { mode: "ask" as const } } : {}),
        },
      });
      onCreated(created.sessionId);
    } catch (failure) {
      setError(AgentRuntimeError.is(failure) ? failure.message : String(failure));
      setBusy(false);
    }
  };

  const selected = profiles?.find((p) => p.id === profileId);
  return (
    <div className="home">
      <form id="new-session" className="card new-session" onSubmit={submit} aria-label="New session">
        <h1>New session</h1>
        <p className="muted">
          Each session runs its agent in its own sandbox, started with the first message.
          {demoModel ? " This server answers with the demo model." : ""}
        </p>
        <label className="field">
          <span>Agent profile</span>
          <select
            name="profile"
            value={profileId}
            onChange={(event) => setProfileId(event.target.value)}
            disabled={!profiles}
          >
            {profiles === undefined ? <option>Loading…</option> : null}
            {profiles?.length === 0 ? <option value="">No profiles on this server</option> : null}
            {profiles?.map((profile) => (
              <option key={profile.id} value={profile.id}>
                {profile.name} ({profile.id})
              </option>
            ))}
          </select>
          {selected?.description ? <small className="muted">{selected.description}</small> : null}
        </label>
        <fieldset className="field">
          <legend>Architecture</legend>
          {architectures.state === "loading" ? <small className="muted">Loading…</small> : null}
          {architectures.state === "failed" ? (
            <p className="form-error">Could not load architectures: {architectures.message}</p>
          ) : null}
          <div className="segmented">
            {offered.map((option) => (
              <label key={option.id} className={selectedArchitecture === option ? "checked" : ""}>
                <input
                  type="radio"
                  name="architecture"
                  value={option.id}
                  checked={selectedArchitecture === option}
                  onChange={() => setArchitecture(option.id)}
                />
                {architectureLabel(option.id)}
              </label>
            ))}
          </div>
        </fieldset>
        <label className="field">
          <span>Model</span>
          <input
            name="model"
            value={model}
            onChange={(event) => setModel(event.target.value)}
            placeholder="Server default"
            autoComplete="off"
            spellCheck={false}
          />
        </label>
        {canAsk ? (
          <label className="check">
            <input
              type="checkbox"
              name="askPermissions"
              checked={askPermissions}
              onChange={(event) => setAskPermissions(event.target.checked)}
            />
            <span>
              Ask before each tool call
              <small className="muted"> (otherwise the profile decides)</small>
            </span>
          </label>
        ) : null}
        {error ? <p className="form-error">{error}</p> : null}
        <button
          type="submit"
          className="button primary"
          disabled={busy || !profileId || !selectedArchitecture}
        >
          {busy ? "Creating…" : "Create session"}
        </button>
      </form>
    </div>
  );
}
