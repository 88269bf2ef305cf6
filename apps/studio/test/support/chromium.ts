import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Debian's Chromium, which the browser tests drive (playwright-core cannot download browsers here). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Launches Debian's Chromium with `args`. Throws, naming how to install it,
 * when it is missing: `npm test` installs it first (`scripts/test-deps.sh`),
 * a test run another way may not have.
 */
export async function launchChromium(args: readonly string[]): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `The Studio's browser tests need Debian's Chromium at ${CHROMIUM_PATH}, which is missing: ` +
        "run `npm run test:deps` (as root it installs it with apt), or `sudo apt-get install chromium`",
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...args] });
}
