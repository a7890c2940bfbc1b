/**
 * Timing, percentile and table helpers for the benchmark. No cacheward or Redis imports here, so the
 * measuring code is the same whatever it measures.
 * @module
 */

/** One measured run of `count` operations. Latencies are in microseconds, one per operation. */
export interface Run {
  count: number
  elapsedMs: number
  opsPerSec: number
  p50Us: number
  p99Us: number
}

/** An operation under test; `i` is the operation's index (0 ≤ i < count), used to pick its key. */
export type Op = (i: number) => Promise<unknown>

/** Value at quantile `q` (0..1) of an ascending array, nearest-rank method. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] as number
}

/**
 * Collects one run of `count` operations that may be measured in several slices, interleaved with other
 * sides' slices: elapsed time and latencies add up, the time between slices does not count.
 */
export class Recorder {
  readonly #latencies: Float64Array
  #recorded = 0
  #elapsedMs = 0

  constructor(readonly count: number) {
    // Preallocated so recording a sample never allocates during the timed loop.
    this.#latencies = new Float64Array(count)
  }

  /**
   * Runs operations `from` (inclusive) to `to` (exclusive) with `workers` concurrent callers, each awaiting
   * one operation at a time (workers = 1 is the sequential case). Latency is measured per operation from
   * its start to its settlement, so under concurrency it includes time spent queued behind the other
   * callers' commands: that is what an application's request would see.
   */
  async run(op: Op, from: number, to: number, workers: number): Promise<void> {
    const latencies = this.#latencies
    const base = this.#recorded
    let next = from
    const worker = async () => {
      for (let i = next++; i < to; i = next++) {
        const t0 = performance.now()
        await op(i)
        latencies[base + i - from] = (performance.now() - t0) * 1000
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: Math.min(workers, to - from) }, worker))
    this.#elapsedMs += performance.now() - started
    this.#recorded += to - from
  }

  result(): Run {
    const latencies = this.#latencies.subarray(0, this.#recorded)
    // A typed array sorts numerically (a plain array would sort as strings).
    latencies.sort()
    return {
      count: this.#recorded,
      elapsedMs: this.#elapsedMs,
      opsPerSec: (this.#recorded / this.#elapsedMs) * 1000,
      p50Us: percentile(latencies, 0.5),
      p99Us: percentile(latencies, 0.99),
    }
  }
}

/** Runs `count` operations in one go with `workers` concurrent callers; see {@link Recorder.run}. */
export async function measure(op: Op, count: number, workers: number): Promise<Run> {
  const recorder = new Recorder(count)
  await recorder.run(op, 0, count, workers)
  return recorder.result()
}

/** The run with the median throughput: a single number that neither the luckiest nor the unluckiest round sets. */
export function medianRun(runs: readonly Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.opsPerSec - b.opsPerSec)
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]
  if (!mid) throw new Error('medianRun: no runs')
  return mid
}

/** Runs the garbage collector when node was started with --expose-gc, so one side's garbage is not collected on the other's clock. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) gc()
}

export const formatInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n))

/** Latency in µs, with one decimal below 100 µs where the decimal still means something. */
export const formatUs = (us: number): string => (us < 100 ? us.toFixed(1) : formatInt(us))

export type Align = 'left' | 'right'

/** A plain-text table: header row, a rule, then rows; columns padded to their widest cell. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[],
): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => {
        const width = widths[c] ?? 0
        return align[c] === 'right' ? cell.padStart(width) : cell.padEnd(width)
      })
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
