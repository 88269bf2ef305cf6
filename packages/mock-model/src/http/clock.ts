/** Wall-clock milliseconds since the epoch with sub-millisecond resolution (`performance.timeOrigin + performance.now()`). */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
