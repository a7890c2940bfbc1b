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

/** Milliseconds with one decimal: the stampede and invalidation times. */
export const formatMs = (ms: number): string => ms.toFixed(1)

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

/** What {@link runInterleaved} needs to know about the sides it compares. */
export interface InterleavedSpec<Name extends string> {
  sides: readonly Name[]
  /** Operations per measured round, per side. */
  ops: number
  /** Each round is cut into this many slices per side; the sides take turns slice by slice. */
  slices: number
  workers: number
  rounds: number
  warmupOps: number
  /** A fresh operation for one side and one round ('warmup' or the round number), e.g. to keep miss keys unique. */
  op(side: Name, round: string): Op
  /** Runs before every slice of every side, outside the timing (e.g. flush the database before a miss slice). */
  beforeSlice?(side: Name): Promise<void>
  /** Checks, outside the timing, that the slice just run did what it claims; returns a problem or undefined. */
  verify(side: Name, count: number): Promise<string | undefined>
  /** Called after every measured round with that round's run per side. */
  onRound?(round: number, runs: Record<Name, Run>): void
}

export interface InterleavedResult<Name extends string> {
  median: Record<Name, Run>
  rounds: Record<Name, Run[]>
  anomalies: string[]
}

/**
 * Warm-up, then `rounds` measured rounds in which every side runs `slices` short slices in rotating order,
 * so that on a shared machine all sides see the same mix of fast and slow moments (run.ts does the same for
 * its three sides). Only time inside slices counts; the median round per side is reported.
 */
export async function runInterleaved<Name extends string>(
  spec: InterleavedSpec<Name>,
): Promise<InterleavedResult<Name>> {
  const { sides } = spec
  const anomalies: string[] = []
  const rounds = Object.fromEntries(sides.map((s) => [s, [] as Run[]])) as Record<Name, Run[]>
  const slice = async (side: Name, recorder: Recorder, op: Op, from: number, to: number, round: string) => {
    await spec.beforeSlice?.(side)
    collectGarbage()
    await recorder.run(op, from, to, spec.workers)
    const problem = await spec.verify(side, to - from)
    if (problem) anomalies.push(`round ${round}: ${side}: ${problem}`)
  }
  for (const side of sides) {
    await slice(side, new Recorder(spec.warmupOps), spec.op(side, 'warmup'), 0, spec.warmupOps, 'warmup')
  }
  const perSlice = Math.ceil(spec.ops / spec.slices)
  for (let round = 0; round < spec.rounds; round++) {
    const recorders = new Map(sides.map((s) => [s, new Recorder(spec.ops)]))
    const ops = new Map(sides.map((s) => [s, spec.op(s, `${round}`)]))
    for (let s = 0; s < spec.slices; s++) {
      const from = s * perSlice
      const to = Math.min(spec.ops, from + perSlice)
      if (from >= to) break
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(k + round + s) % sides.length] as Name
        await slice(side, recorders.get(side) as Recorder, ops.get(side) as Op, from, to, `${round}`)
      }
    }
    const runs = Object.fromEntries(sides.map((s) => [s, (recorders.get(s) as Recorder).result()])) as Record<Name, Run>
    for (const side of sides) rounds[side].push(runs[side])
    spec.onRound?.(round, runs)
  }
  const median = Object.fromEntries(sides.map((s) => [s, medianRun(rounds[s])])) as Record<Name, Run>
  return { median, rounds, anomalies }
}

/** (max - min) / median of the rounds' throughput, in percent: how much to trust a ratio near a target. */
export function spreadPercent(runs: readonly Run[]): number {
  const ops = runs.map((r) => r.opsPerSec)
  return ((Math.max(...ops) - Math.min(...ops)) / medianRun(runs).opsPerSec) * 100
}
