import type { SystemBlock } from "@agent-runtime/protocol";

/** A system message from the agent or runtime (init, compaction, …): quiet, one line. */
export function SystemNotice({ block }: { readonly block: SystemBlock }) {
  return (
    <div className="notice system-notice" data-block-type="system">
      {block.subtype ? <span className="notice-tag">{block.subtype}</span> : null}
      <span>{block.content}</span>
    </div>
  );
}
