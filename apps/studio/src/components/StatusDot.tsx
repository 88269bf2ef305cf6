/** A small coloured dot for a sandbox status (`pending`, `queued`, `preparing`, `creating`, `running`, `terminated`, `error`) or `working`. */
export function StatusDot({ status }: { readonly status: string }) {
  return <span className={`status-dot status-${status}`} aria-hidden="true" />;
}
