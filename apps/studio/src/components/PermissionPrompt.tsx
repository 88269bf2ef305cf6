import type { PermissionDecision } from "@agent-runtime/client";
import type { PermissionRequest } from "@agent-runtime/protocol";
import { useState } from "react";
import { asToolInput } from "../tool-input.js";
import { ToolInputView } from "./ToolInputView.js";

interface PermissionPromptProps {
  readonly request: PermissionRequest;
  /** Sends the answer; `always` (with allow) allows this tool for the rest of the session. */
  onAnswer(decision: PermissionDecision, always: boolean): Promise<void>;
}

/** An inline question: may the agent run this tool with this input? */
export function PermissionPrompt({ request, onAnswer }: PermissionPromptProps) {
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const answer = async (decision: PermissionDecision, always: boolean) => {
    setSending(true);
    setError(undefined);
    try {
      await onAnswer(decision, always);
    } catch (failure) {
      setError(String(failure));
      setSending(false);
    }
  };
  const { toolName } = request;
  return (
    <div className="permission" role="alertdialog" aria-label={`Permission for ${toolName}`}>
      <p>
        The agent wants to use <strong>{toolName}</strong>
        {request.title ? `: ${request.title}` : "."}
      </p>
      {request.input !== undefined ? (
        <ToolInputView toolName={toolName} input={asToolInput(request.input)} />
      ) : null}
      {error ? <p className="form-error small">{error}</p> : null}
      <div className="permission-actions">
        <button
          type="button"
          className="button primary"
          disabled={sending}
          onClick={() => answer("allow", false)}
        >
          Allow
        </button>
        <button type="button" className="button" disabled={sending} onClick={() => answer("allow", true)}>
          Always allow
        </button>
        <button
          type="button"
          className="button danger"
          disabled={sending}
          onClick={() => answer("deny", false)}
        >
          Deny
        </button>
      </div>
    </div>
  );
}
