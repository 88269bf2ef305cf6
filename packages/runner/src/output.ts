import type { RunnerOutput } from "@agent-runtime/protocol";

/**
 * The runner's only way to write to stdout: one JSON object per line. Any
 * other stdout writer would corrupt the protocol, so `main` sends console
 * output to stderr.
 */
export interface OutputWriter {
  write(line: RunnerOutput): void;
  /** Resolves once everything written so far has been handed to the OS. */
  flush(): Promise<void>;
}

export function createOutputWriter(stream: NodeJS.WritableStream): OutputWriter {
  return {
    write(line) {
      stream.write(`${JSON.stringify(line)}\n`);
    },
    flush() {
      return new Promise((resolve) => {
        if (!stream.write("", () => resolve())) stream.once("drain", () => resolve());
      });
    },
  };
}
