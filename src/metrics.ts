/**
 * Counters and latency summaries, for the whole client and per category, and their snapshot.
 * @module
 */

/** The counters kept for the whole client and for each category. */
export interface Counters {
  /** Fresh entries served. */
  hits: number
  /** Of those, answered by the in-process tier (`l1`): no backend command. */
  l1Hits: number
  /** Stale entries served (stale-while-revalidate, stale-if-error, soft timeout). */
  staleHits: number
  /** Calls answered by a load (including callers that joined another caller's load). */
  misses: number
  /** Loader calls (foreground and background). */
  loads: number
  /** Loader calls that threw, timed out (`hardTimeout`) or returned a value failing the schema. */
  loadErrors: number
  /** Loader calls ended by `hardTimeout` (also counted in `loadErrors`). */
  loadTimeouts: number
  /** Backend failures (down, timing out, garbage), each also emitted as an `error` event. */
  errors: number
  /** Calls that waited for another process's load of the same key (its lock). */
  lockWaits: number
  /** Of those, waits that ran out (`lockWait`, or `softTimeout` with a stale value) before the value landed. */
  lockTimeouts: number
  /** Background refreshes that loaded a new value (stale-while-revalidate, early refresh, soft timeout). */
  refreshes: number
  /** Values not stored because their stored form was over `maxValueBytes` (returned by `getOrSet`, refused by `set`). */
  oversized: number
  /** Successful `delete`, `invalidateTags`, `invalidatePattern` and `clear` calls (totals only: they have no category). */
  invalidations: number
}

/** Percentiles of a latency distribution, in milliseconds (0 when `count` is 0). */
export interface LatencySummary {
  /** Calls recorded (every one; synchronous fresh hits are timed one in 16, see `metrics()` in docs/08). */
  count: number
  /** Median. */
  p50: number
  /** 95th percentile. */
  p95: number
  /** 99th percentile. */
  p99: number
  /** Largest sample. */
  max: number
}

/** Latency of served hits (fresh or stale, from call to answer) and of loader calls. */
export interface Latency {
  /** Calls answered from the cache (fresh or stale), from the call to its answer. */
  hits: LatencySummary
  /** Loader calls that returned a value. */
  loads: LatencySummary
}

/** One category's (or the whole client's) counters, hit rate and latency. */
export interface CategoryMetrics extends Counters {
  /** `hits + staleHits` over all served calls, from 0 to 1 (0 when nothing was served). */
  hitRate: number
  /** Percentiles of hit and load latency. */
  latency: Latency
}

/** State of the circuit breaker: `'disabled'` when the client was built with `circuitBreaker: false`. */
export type CircuitState = 'closed' | 'open' | 'disabled'

/** What `metrics()` returns. */
export interface MetricsSnapshot extends CategoryMetrics {
  /** The client's namespace (its child namespaces are counted in it), or `undefined`. */
  namespace: string | undefined
  /** The circuit breaker's state now. */
  circuit: CircuitState
  /** The same per `category` option; calls without one are only in the totals. At most 64, then `'(other)'`. */
  categories: Record<string, CategoryMetrics>
  /** The in-process tier, when `l1` is on. */
  l1?: L1Snapshot
}

/** The in-process tier's state, in `metrics()`. */
export interface L1Snapshot {
  /**
   * Whether it serves now: its subscription to the backend's change announcements is confirmed (always
   * true without one, `ttl` bounding it then). While false it is empty and every call goes to the backend.
   */
  live: boolean
  /** Entries it holds now. */
  entries: number
  /** Entries pushed out by its bounds (`maxEntries`, `maxBytes`) so far. */
  evictions: number
}

/** Most distinct categories tracked; later ones are folded into `'(other)'` to bound cardinality. */
export const MAX_CATEGORIES = 64

/**
 * A client's own `(category) => label` (see Metrics.labelOf), under a registered symbol so that an exporter bundled
 * apart from the core finds it. Internal: not part of the public API.
 */
export const CATEGORY_LABEL = Symbol.for('cacheward.categoryLabel')

const zero = (): Counters => ({
  hits: 0,
  l1Hits: 0,
  staleHits: 0,
  misses: 0,
  loads: 0,
  loadErrors: 0,
  loadTimeouts: 0,
  errors: 0,
  lockWaits: 0,
  lockTimeouts: 0,
  refreshes: 0,
  oversized: 0,
  invalidations: 0,
})

const rate = (c: Counters) => {
  const served = c.hits + c.staleHits + c.misses
  return served === 0 ? 0 : (c.hits + c.staleHits) / served
}

// A log-bucketed histogram: bucket i > 0 holds samples in [MIN·G^(i-1), MIN·G^i) ms, so any percentile is
// within ±2.5 % of a recorded sample whatever the range, in fixed memory (2 kB) and O(1) per sample.
// Hand-written rather than a dependency: the core must stay small and free of Node built-ins (edge runtimes).
const GROWTH = 1.05
const LOG_GROWTH = Math.log(GROWTH)
const MIN_MS = 0.001
const BUCKETS = 520 // MIN_MS · 1.05^519 ≈ 100 s; slower samples share the last bucket

export class Histogram {
  readonly #buckets = new Uint32Array(BUCKETS)
  #count = 0
  #weighed = 0
  #max = 0

  /** One call; `weight` samples of `ms` in the buckets (0: counted, not timed; more: a reading that stands for more). */
  record(ms: number, weight = 1): void {
    this.#count++
    if (weight === 0) return
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH))
    this.#buckets[i] = (this.#buckets[i] as number) + weight
    this.#weighed += weight
    if (ms > this.#max) this.#max = ms
  }

  summary(): LatencySummary {
    return {
      count: this.#count,
      p50: this.#percentile(0.5),
      p95: this.#percentile(0.95),
      p99: this.#percentile(0.99),
      max: this.#max,
    }
  }

  #percentile(q: number): number {
    if (this.#weighed === 0) return 0
    const rank = Math.ceil(q * this.#weighed)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#buckets[i] as number
      if (seen >= rank) {
        // The bucket's geometric middle, never above the largest sample.
        const middle = i === 0 ? MIN_MS : MIN_MS * GROWTH ** (i - 0.5)
        return Math.min(middle, this.#max)
      }
    }
    return this.#max
  }
}

class Tally {
  readonly counters = zero()
  hits: Histogram | undefined
  loads: Histogram | undefined
  /** Fresh synchronous hits (the tier's, the memory store's) counted since the last one that read the clock. */
  untimed = 0

  snapshot(): CategoryMetrics {
    return {
      ...this.counters,
      hitRate: rate(this.counters),
      latency: { hits: summarize(this.hits), loads: summarize(this.loads) },
    }
  }
}

function serve(tally: Tally, kind: 'hit' | 'stale' | 'miss', ms: number, tier: 'l1' | 'l2', sync: boolean): void {
  const counters = tally.counters
  if (kind === 'miss') {
    counters.misses++
    return
  }
  if (kind === 'hit') {
    counters.hits++
    if (tier === 'l1') counters.l1Hits++
  } else counters.staleHits++
  tally.hits ??= new Histogram()
  let weight = 1
  if (sync) {
    // Untimed (ms < 0): counted now, weighed by the tally's next timed synchronous hit.
    weight = ms < 0 ? 0 : weight + tally.untimed
    tally.untimed = ms < 0 ? tally.untimed + 1 : 0
  }
  tally.hits.record(ms, weight)
}

/** Whether a tally's next synchronous hit reads the clock (see Metrics.timesSyncHit). */
const due = (t: Tally) => t.hits === undefined || t.untimed >= 15

const EMPTY: LatencySummary = Object.freeze({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 })
const summarize = (h: Histogram | undefined) => (h ? h.summary() : { ...EMPTY })

/** Which latency a sample belongs to. */
export type LatencyKind = 'hits' | 'loads'

/** Mutable counters shared by a client and its namespaces. With `enabled` false, nothing is recorded. */
export class Metrics {
  #total = new Tally()
  #categories = new Map<string, Tally>()
  readonly enabled: boolean
  readonly #namespace: string | undefined
  readonly #circuit: () => CircuitState
  readonly #l1: () => L1Snapshot | undefined

  constructor(options: {
    enabled: boolean
    namespace: string | undefined
    circuit: () => CircuitState
    l1?: () => L1Snapshot | undefined
  }) {
    this.enabled = options.enabled
    this.#namespace = options.namespace
    this.#circuit = options.circuit
    this.#l1 = options.l1 ?? (() => undefined)
  }

  count(counter: keyof Counters, category?: string): void {
    if (!this.enabled) return
    this.#total.counters[counter]++
    if (category !== undefined) this.#category(category).counters[counter]++
  }

  /**
   * One served call: its counter and, for hits, its latency, with one category lookup and direct field
   * increments (the hit path of every call comes through here).
   */
  served(kind: 'hit' | 'stale' | 'miss', ms: number, category?: string, tier: 'l1' | 'l2' = 'l2', sync = false): void {
    if (!this.enabled) return
    serve(this.#total, kind, ms, tier, sync)
    if (category !== undefined) serve(this.#category(category), kind, ms, tier, sync)
  }

  /**
   * Whether a fresh hit answered synchronously (the in-process tier, the memory store) reads the clock: a tally's
   * first, then one in 16 of the client's and of each category's. The others are counted as
   * `served('hit', -1, …, true)`, and the next reading weighs for them.
   */
  timesSyncHit(category?: string): boolean {
    return this.enabled && (due(this.#total) || (category !== undefined && due(this.#category(category))))
  }

  /** Records a latency sample (ms). */
  observe(kind: LatencyKind, ms: number, category?: string): void {
    if (!this.enabled) return
    this.#total[kind] ??= new Histogram()
    this.#total[kind].record(ms)
    if (category !== undefined) {
      const tally = this.#category(category)
      tally[kind] ??= new Histogram()
      tally[kind].record(ms)
    }
  }

  snapshot(): MetricsSnapshot {
    // No prototype: a category named "__proto__" (or "constructor") is a key like any other.
    const categories: Record<string, CategoryMetrics> = Object.create(null)
    for (const [name, tally] of this.#categories) categories[name] = tally.snapshot()
    const l1 = this.#l1()
    return {
      ...this.#total.snapshot(),
      namespace: this.#namespace,
      circuit: this.#circuit(),
      categories,
      ...(l1 ? { l1 } : {}),
    }
  }

  reset(): void {
    this.#total = new Tally()
    this.#categories.clear()
  }

  /**
   * The label `category`'s calls are counted under, once counted: its own name, or `'(other)'` past
   * {@link MAX_CATEGORIES}. `undefined` when nothing is counted (metrics off). The exporters label their samples with
   * it, so a series' category is always one `metrics()` reports, after a reset too.
   */
  labelOf(category: string): string | undefined {
    if (!this.enabled) return undefined
    return this.#categories.has(category) || this.#categories.size < MAX_CATEGORIES ? category : '(other)'
  }

  #category(name: string): Tally {
    let tally = this.#categories.get(name)
    if (!tally) {
      const key = this.#categories.size >= MAX_CATEGORIES ? '(other)' : name
      tally = this.#categories.get(key) ?? new Tally()
      this.#categories.set(key, tally)
    }
    return tally
  }
}
