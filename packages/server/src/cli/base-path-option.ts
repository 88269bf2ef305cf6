import { InvalidArgumentError } from "commander";
import { errorMessage } from "../errors.js";
import { normalizeBasePath } from "../transport/http/base-path.js";

/** Parses `--base-path` / `AGENT_RUNTIME_BASE_PATH` (see `normalizeBasePath`); commander names the option and the value it refuses. */
export function basePathOption(value: string): string {
  try {
    return normalizeBasePath(value);
  } catch (error) {
    throw new InvalidArgumentError(errorMessage(error));
  }
}
