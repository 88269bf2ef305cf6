import type { SessionEventInput } from "@agent-runtime/protocol";
import { errorMessage, RuntimeError } from "../errors.js";

/**
 * Tells a session's clients which workspace files are not stored (so they
 * would not survive the sandbox's teardown): over a quota, or unreadable.
 * Each file is named once for each size it had, so a file that keeps
 * changing past the quota is said again, a file left alone is not.
 */
export class NotDurableReport {
  private readonly said = new Set<string>();

  constructor(
    private readonly options: {
      readonly maxFileBytes: number;
      readonly maxWorkspaceBytes: number;
      emit(event: SessionEventInput): void;
    },
  ) {}

  /** Files over the per-file or per-workspace quota (`STORAGE_QUOTA`), with their sizes. */
  overQuota(files: ReadonlyArray<{ path: string; size: number }>): void {
    const news = files.filter((file) => this.first("quota", file.path, file.size)).map((file) => file.path);
    if (news.length === 0) return;
    const shown = news.slice(0, 20).join(", ") + (news.length > 20 ? ` and ${news.length - 20} more` : "");
    this.options.emit({
      type: "error",
      code: "STORAGE_QUOTA",
      message: `Not stored (over ${this.options.maxFileBytes} bytes per file or ${this.options.maxWorkspaceBytes} per workspace); they will not survive the sandbox's teardown: ${shown}`,
    });
  }

  /** A file that could not be read from the sandbox, with the reason (its error's code). */
  unreadable(path: string, size: number | undefined, error: unknown): void {
    if (!this.first("read", path, size)) return;
    this.options.emit({
      type: "error",
      code: RuntimeError.is(error) ? error.code : "SANDBOX_FAILED",
      message: `Not stored, so it will not survive the sandbox's teardown: ${path.slice(0, 300)} (${errorMessage(error)})`,
    });
  }

  private first(kind: string, path: string, size: number | undefined): boolean {
    const key = `${kind}\0${path}\0${size}`;
    if (this.said.has(key)) return false;
    this.said.add(key);
    return true;
  }
}
