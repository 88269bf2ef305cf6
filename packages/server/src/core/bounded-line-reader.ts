const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export interface BoundedLineReaderOptions {
  /** Longest line delivered, in bytes before its `\n`. */
  readonly maxLineBytes: number;
  /** Each complete line, decoded as UTF-8, without its `\n` or `\r\n`; empty lines included. */
  readonly onLine: (line: string) => void;
  /** Called once, as soon as a line passes `maxLineBytes`; nothing is delivered after it. */
  readonly onOversize: () => void;
}

/**
 * Splits a byte stream into lines without ever holding more than
 * `maxLineBytes` of an unfinished line (plus the chunk being split). Lines
 * are delivered synchronously from `push`, so a caller that pushes from a
 * stream's `data` event keeps the stream's own backpressure. After an
 * oversize line, every later byte is discarded.
 */
export class BoundedLineReader {
  /** The unfinished line, in pieces. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private stopped = false;

  constructor(private readonly options: BoundedLineReaderOptions) {}

  /** Bytes of the unfinished line held until its `\n` arrives. */
  get pendingBytes(): number {
    return this.pendingLength;
  }

  /** Splits `chunk`, delivering every line it completes. */
  push(chunk: Buffer): void {
    let start = 0;
    while (!this.stopped) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) {
        this.hold(chunk.subarray(start));
        return;
      }
      if (this.pendingLength + end - start > this.options.maxLineBytes) {
        this.oversize();
        return;
      }
      const piece = chunk.subarray(start, end);
      const line = this.pendingLength === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.pending = [];
      this.pendingLength = 0;
      start = end + 1;
      this.deliver(line);
    }
  }

  /** The input ended: delivers an unfinished last line, if any. */
  end(): void {
    if (this.stopped || this.pendingLength === 0) return;
    const line = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingLength = 0;
    this.deliver(line);
  }

  private hold(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.pendingLength + piece.length > this.options.maxLineBytes) {
      this.oversize();
      return;
    }
    this.pending.push(piece);
    this.pendingLength += piece.length;
  }

  private deliver(line: Buffer): void {
    const length = line.at(-1) === CARRIAGE_RETURN ? line.length - 1 : line.length;
    this.options.onLine(line.toString("utf8", 0, length));
  }

  private oversize(): void {
    this.stopped = true;
    this.pending = [];
    this.pendingLength = 0;
    this.options.onOversize();
  }
}
