/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for
 * tests: every line must be a `# HELP`, a `# TYPE` or a sample of a metric
 * family declared before it; anything else throws, naming the line. No
 * parser library for the format is installed, so this is the minimum the
 * tests need: samples by name and labels, and the histogram invariants.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
  /** The value of the one sample of `name` with exactly these labels (others may be absent from it: not matched). */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Sum of the samples of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition does not end with a newline");
  for (const [index, line] of lines.slice(0, -1).entries()) {
    const where = `line ${index + 1}: ${line}`;
    if (line === "") continue;
    if (line.startsWith("# HELP ")) {
      if (!NAME.test(line.slice(7).split(" ")[0] ?? "")) throw new Error(`bad HELP, ${where}`);
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name = "", type = "", ...rest] = line.slice(7).split(" ");
      if (!NAME.test(name) || !TYPES.has(type) || rest.length > 0) throw new Error(`bad TYPE, ${where}`);
      if (types.has(name)) throw new Error(`second TYPE of ${name}, ${where}`);
      types.set(name, type);
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, types);
    if (!family) throw new Error(`sample of an undeclared metric, ${where}`);
    samples.push(sample);
  }
  const matches = (sample: Sample, labels: Record<string, string>) =>
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value);
  const exposition: Exposition = {
    types,
    samples,
    value(name, labels = {}) {
      const found = samples.filter(
        (s) =>
          s.name === name &&
          matches(s, labels) &&
          Object.keys(s.labels).length === Object.keys(labels).length,
      );
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    sum(name, labels = {}) {
      return samples.filter((s) => s.name === name && matches(s, labels)).reduce((t, s) => t + s.value, 0);
    },
  };
  checkHistograms(exposition);
  return exposition;
}

function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    if (base && (types.get(base) === "histogram" || types.get(base) === "summary")) return base;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (!match) throw new Error(`not a sample, ${where}`);
  const labels: Record<string, string> = {};
  let rest = match[3] ?? "";
  while (rest !== "") {
    const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(,|$)/.exec(rest);
    if (!label) throw new Error(`bad labels, ${where}`);
    const [whole, key = "", raw = ""] = label;
    if (key in labels) throw new Error(`label ${key} twice, ${where}`);
    labels[key] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
    rest = rest.slice(whole.length);
  }
  const text = match[4] ?? "";
  // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes `Nan`).
  const special = text.toLowerCase();
  const value =
    special === "+inf" || special === "inf"
      ? Infinity
      : special === "-inf"
        ? -Infinity
        : special === "nan"
          ? NaN
          : Number(text);
  if (Number.isNaN(value) && special !== "nan") throw new Error(`bad value, ${where}`);
  return { name: match[1] ?? "", labels, value };
}

/** Each histogram series: cumulative buckets, ascending `le`, ending at `+Inf` equal to `_count`. */
function checkHistograms(exposition: Exposition): void {
  for (const [name, type] of exposition.types) {
    if (type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const sample of exposition.samples) {
      if (sample.name !== `${name}_bucket`) continue;
      const { le, ...rest } = sample.labels;
      if (le === undefined) throw new Error(`${name}_bucket without le`);
      const key = JSON.stringify(Object.entries(rest).sort());
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      let previousLe = -Infinity;
      let previousCount = 0;
      for (const bucket of buckets) {
        const le = bucket.labels.le === "+Inf" ? Infinity : Number(bucket.labels.le);
        if (!(le > previousLe)) throw new Error(`${name} ${key}: le not ascending`);
        if (bucket.value < previousCount) throw new Error(`${name} ${key}: buckets not cumulative`);
        previousLe = le;
        previousCount = bucket.value;
      }
      if (previousLe !== Infinity) throw new Error(`${name} ${key}: no +Inf bucket`);
      const labels = Object.fromEntries(JSON.parse(key) as [string, string][]);
      if (exposition.value(`${name}_count`, labels) !== previousCount)
        throw new Error(`${name} ${key}: +Inf bucket is not _count`);
    }
  }
}
