import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where `npm run bench` sections save their figures: one folder per section, one JSON file per run. */
const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? fileURLToPath(new URL("./results/", import.meta.url));

/** One figure of a run: its value, unit, and whether a smaller value is better. */
export interface Figure {
  readonly value: number;
  readonly unit: string;
  readonly lowerIsBetter?: boolean;
}

/** What one run of a section saved: when, on what machine, and its figures by name. */
export interface SavedRun {
  readonly section: string;
  readonly at: string;
  readonly machine: { readonly cpus: number; readonly node: string };
  readonly figures: Readonly<Record<string, Figure>>;
  /** Anything else worth keeping with the figures (samples, versions). */
  readonly details?: unknown;
}

/**
 * Saves `figures` as `<results>/<section>/<time>.json` and prints, figure by
 * figure, the change against the previous saved run of the section (the
 * newest file before this one), if there is one. Returns the path written.
 */
export async function saveAndCompare(
  section: string,
  figures: Readonly<Record<string, Figure>>,
  details?: unknown,
): Promise<string> {
  const dir = join(RESULTS_DIR, section);
  await mkdir(dir, { recursive: true });
  const previous = await latestRun(dir);
  const at = new Date().toISOString();
  const { cpus } = await import("node:os");
  const run: SavedRun = {
    section,
    at,
    machine: { cpus: cpus().length, node: process.version },
    figures,
    ...(details === undefined ? {} : { details }),
  };
  const file = join(dir, `${at.replace(/[:.]/g, "-")}.json`);
  await writeFile(file, `${JSON.stringify(run, null, 2)}\n`);
  console.log(`\n  saved ${file}`);
  if (!previous) {
    console.log("  no previous run of this section to compare with");
    return file;
  }
  console.log(`  change against the previous run (${previous.at}):`);
  for (const line of compareRuns(previous, run)) console.log(`    ${line}`);
  return file;
}

/** One line per figure of `current`: its value, the previous one and the change (better / worse by the figure's direction). */
export function compareRuns(previous: SavedRun, current: SavedRun): string[] {
  return Object.entries(current.figures).map(([name, figure]) => {
    const before = previous.figures[name];
    const now = `${format(figure.value)} ${figure.unit}`;
    if (!before || !Number.isFinite(before.value) || !Number.isFinite(figure.value))
      return `${name}: ${now} (new)`;
    const change = figure.value - before.value;
    const percent = before.value === 0 ? Number.NaN : (change / Math.abs(before.value)) * 100;
    const lower = figure.lowerIsBetter ?? true;
    const verdict = Math.abs(percent) < 5 ? "same" : change < 0 === lower ? "better" : "worse";
    const signed = `${change >= 0 ? "+" : ""}${format(change)}`;
    return `${name}: ${format(before.value)} → ${now} (${signed}, ${Number.isFinite(percent) ? `${percent >= 0 ? "+" : ""}${percent.toFixed(0)}%` : "n/a"}, ${verdict})`;
  });
}

async function latestRun(dir: string): Promise<SavedRun | undefined> {
  const files = (await readdir(dir)).filter((name) => name.endsWith(".json")).sort();
  const newest = files.at(-1);
  if (!newest) return undefined;
  try {
    return JSON.parse(await readFile(join(dir, newest), "utf8")) as SavedRun;
  } catch {
    return undefined;
  }
}

function format(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
}
