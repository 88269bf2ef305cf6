import { InvalidArgumentError } from "commander";

/** Parses a numeric option, refusing what is not a number (its range is the server's to check). */
export function numeric(value: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed)) throw new InvalidArgumentError("Not a number.");
  return parsed;
}
