import { useState } from "react";

const DISMISSED_KEY = "agent-runtime.demoBannerDismissed";

/** Says that agents talk to the built-in scripted demo model (the server has no model API key). */
export function DemoBanner() {
  const [dismissed, setDismissed] = useState(() => sessionStorage.getItem(DISMISSED_KEY) === "1");
  if (dismissed) return null;
  return (
    <div className="banner demo-banner" role="status">
      <strong>Demo model.</strong>{" "}
      <span>
        This server has no model API key, so agents talk to a scripted demo model. Try “create a file”, “run a
        command”, “use a subagent” or “think”. Set <code>ANTHROPIC_API_KEY</code> to use a real model.
      </span>
      <button
        type="button"
        className="banner-close"
        aria-label="Dismiss"
        onClick={() => {
          sessionStorage.setItem(DISMISSED_KEY, "1");
          setDismissed(true);
        }}
      >
        ×
      </button>
    </div>
  );
}
