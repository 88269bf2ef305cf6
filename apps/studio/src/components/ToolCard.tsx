import type { ToolResultBlock, ToolUseBlock } from "@agent-runtime/protocol";
import { useState } from "react";
import { duration } from "../format.js";
import { asToolInput, summarizeToolInput } from "../tool-input.js";
import { ToolInputView } from "./ToolInputView.js";

interface ToolCardProps {
  /** The call; absent for a result whose call is unknown. */
  readonly call?: ToolUseBlock | undefined;
  /** The call's result, once it arrived. */
  readonly result?: ToolResultBlock | undefined;
}

/**
 * A tool call and its result as one compact card: name, a one-line summary,
 * the state and how long the call took; opens to the full input and result. Errors show in red and
 * start open.
 */
export function ToolCard({ call, result }: ToolCardProps) {
  const failed = result?.isError === true || call?.status === "error";
  const [open, setOpen] = useState<boolean | undefined>(undefined);
  const expanded = open ?? failed;
  const input = asToolInput(call?.input);
  const toolName = call?.toolName ?? "Tool result";
  const state = failed ? "error" : result ? "done" : (call?.status ?? "running");
  return (
    <div
      className={`tool-card state-${state}`}
      data-block-type="tool_use"
      data-tool-name={toolName}
      data-state={state}
    >
      <button type="button" className="tool-head" aria-expanded={expanded} onClick={() => setOpen(!expanded)}>
        <span className={`tool-icon state-${state}`} aria-hidden="true">
          {state === "error" ? "!" : state === "done" || state === "success" ? "✓" : "…"}
        </span>
        <span className="tool-name">{toolName}</span>
        <span className="tool-summary">{summarizeToolInput(toolName, input)}</span>
        {result?.durationMs !== undefined ? (
          <span className="tool-duration muted small" data-duration-ms={result.durationMs}>
            {duration(result.durationMs)}
          </span>
        ) : null}
        <span className="chevron" aria-hidden="true">
          {expanded ? "▾" : "▸"}
        </span>
      </button>
      {expanded ? (
        <div className="tool-body">
          {call ? (
            <section>
              <h4>Input</h4>
              <ToolInputView toolName={toolName} input={input} />
            </section>
          ) : null}
          <section>
            <h4>{failed ? "Error" : "Result"}</h4>
            {result ? (
              <pre className={`tool-result ${failed ? "error" : ""}`}>{result.content || "(empty)"}</pre>
            ) : (
              <p className="muted small">Waiting for the result…</p>
            )}
          </section>
        </div>
      ) : null}
    </div>
  );
}
