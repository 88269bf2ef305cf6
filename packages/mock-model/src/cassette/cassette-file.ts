import { readFile, rename, writeFile } from "node:fs/promises";
import { z } from "zod";
import { MockModelError } from "../errors.js";
import { CASSETTE_VERSION, type Cassette, type CassetteEntry, cassetteSchema } from "./schema.js";

/**
 * Reads and validates a cassette file.
 * @throws MockModelError `invalid_cassette` (the message names the file) when it is missing, not JSON or not a valid cassette.
 */
export async function loadCassette(path: string): Promise<Cassette> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new MockModelError("invalid_cassette", `Cannot read cassette ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MockModelError(
      "invalid_cassette",
      `Cassette ${path} is not valid JSON: ${(error as Error).message}`,
    );
  }
  const parsed = cassetteSchema.safeParse(json);
  if (!parsed.success) {
    throw new MockModelError(
      "invalid_cassette",
      `Invalid cassette ${path}:\n${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/**
 * Writes a cassette as its entries complete. Entries keep the order their
 * requests arrived in (a slot is reserved on arrival), so concurrent
 * requests that finish out of order are still stored in arrival order.
 * Every write replaces the file atomically (write a sibling, then rename);
 * writes are serialised.
 */
export class CassetteWriter {
  readonly #slots: (CassetteEntry | undefined)[] = [];
  #writing: Promise<void> = Promise.resolve();
  #failure: Error | undefined;

  constructor(private readonly path: string) {}

  /** Reserves the next position; returns its 1-based number. */
  reserve(): number {
    this.#slots.push(undefined);
    return this.#slots.length;
  }

  /** Fills a reserved position and schedules a write. A position that is never filled is left out. */
  fill(position: number, entry: CassetteEntry): void {
    this.#slots[position - 1] = entry;
    this.#scheduleWrite();
  }

  /** Writes the cassette now (also when it has no entries yet). */
  start(): Promise<void> {
    this.#scheduleWrite();
    return this.flush();
  }

  /**
   * Resolves when every scheduled write is done.
   * @throws the first write error (e.g. a missing directory), once.
   */
  async flush(): Promise<void> {
    await this.#writing;
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure) throw failure;
  }

  #scheduleWrite(): void {
    this.#writing = this.#writing.then(() =>
      this.#write().catch((error: Error) => {
        this.#failure ??= error;
      }),
    );
  }

  async #write(): Promise<void> {
    const cassette: Cassette = {
      version: CASSETTE_VERSION,
      entries: this.#slots.filter((entry): entry is CassetteEntry => entry !== undefined),
    };
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(cassette, null, 2)}\n`);
    await rename(temporary, this.path);
  }
}
