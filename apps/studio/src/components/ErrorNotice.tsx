import type { ErrorBlock } from "@agent-runtime/protocol";

/** An error block: what went wrong in the turn, with its code. */
export function ErrorNotice({ block }: { readonly block: ErrorBlock }) {
  return (
    <div className="notice error-notice" role="alert" data-block-type="error">
      {block.code ? <span className="notice-tag">{block.code}</span> : null}
      <span>{block.message}</span>
    </div>
  );
}
