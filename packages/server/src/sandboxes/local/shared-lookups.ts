import dns, { type LookupAddress, type LookupOptions } from "node:dns";

/** How long a host name's address is reused for new connections. */
const LOOKUP_TTL_MS = 30_000;

type Resolve = (
  hostname: string,
  options: { family: number },
) => Promise<{ address: string; family: number }>;

/**
 * A `lookup` for `net.connect`, shared by the connections of one egress
 * proxy: a lookup in flight is joined, not repeated, and its answer is
 * reused for `ttlMs`, so a sandbox opening connections in a tight loop costs
 * one lookup per host, not one per connection (lookups run on the thread
 * pool the server's file I/O uses). A failed lookup is not kept.
 */
export class SharedLookups {
  private readonly answers = new Map<
    string,
    { expires: number; answer: Promise<{ address: string; family: number }> }
  >();

  constructor(
    private readonly resolve: Resolve = systemLookup,
    private readonly ttlMs = LOOKUP_TTL_MS,
  ) {}

  readonly lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    const now = Date.now();
    let entry = this.answers.get(hostname);
    if (!entry || entry.expires <= now) {
      const answer = this.resolve(hostname, {
        family: typeof options.family === "number" ? options.family : 0,
      });
      entry = { expires: now + this.ttlMs, answer };
      this.answers.set(hostname, entry);
      answer.catch(() => {
        if (this.answers.get(hostname)?.answer === answer) this.answers.delete(hostname);
      });
    }
    entry.answer.then(
      ({ address, family }) =>
        options.all ? callback(null, [{ address, family }]) : callback(null, address, family),
      (error: NodeJS.ErrnoException) => callback(error, ""),
    );
  };
}

/** `dns.lookup`, looked up when called (so whatever replaced it, as `net.connect` would see, is used). */
function systemLookup(
  hostname: string,
  options: { family: number },
): Promise<{ address: string; family: number }> {
  return new Promise((resolve, reject) =>
    dns.lookup(hostname, { family: options.family }, (error, address, family) =>
      error ? reject(error) : resolve({ address, family }),
    ),
  );
}
