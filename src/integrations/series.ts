/**
 * What the Prometheus and OpenTelemetry exporters share: a snapshot turned into labelled rows, and
 * the bound on category labels for samples taken from events. Not a public entry point.
 * @module
 */
import type { CacheClient } from '../client.js'
import { CATEGORY_LABEL, type Counters, MAX_CATEGORIES, type MetricsSnapshot } from '../metrics.js'

/** The category label of calls made without a `category` option. */
export const NO_CATEGORY = '(none)'
/** The category label past {@link MAX_CATEGORIES} distinct categories (the same fold `metrics()` makes). */
export const OTHER_CATEGORY = '(other)'

/** One labelled row of counters. */
export interface Row {
  namespace: string
  category: string
  counters: Counters
  hitRate: number
}

const COUNTER_NAMES = [
  'hits',
  'l1Hits',
  'staleHits',
  'misses',
  'loads',
  'loadErrors',
  'loadTimeouts',
  'errors',
  'lockWaits',
  'lockTimeouts',
  'refreshes',
  'oversized',
  'invalidations',
] as const satisfies readonly (keyof Counters)[]
// Every counter, or this does not compile: a counter missing here would be exported as 0.
const _everyCounter: Exclude<keyof Counters, (typeof COUNTER_NAMES)[number]> extends never ? true : never = true
void _everyCounter

/**
 * One row per namespace and category, plus a `(none)` row per namespace holding what no category claimed
 * (totals minus the categories), so summing over categories gives the totals. Clients that share a
 * namespace are added up. At most 66 rows per namespace.
 */
export function rowsOf(snapshots: readonly MetricsSnapshot[]): Row[] {
  const rows = new Map<string, Row>()
  const add = (namespace: string, category: string, counters: Counters) => {
    const id = `${namespace}\u0000${category}`
    const row = rows.get(id)
    if (!row) {
      rows.set(id, { namespace, category, counters: { ...counters }, hitRate: 0 })
      return
    }
    for (const name of COUNTER_NAMES) row.counters[name] += counters[name]
  }
  for (const snapshot of snapshots) {
    const namespace = snapshot.namespace ?? ''
    const rest = {} as Counters
    for (const name of COUNTER_NAMES) rest[name] = snapshot[name]
    for (const [category, metrics] of Object.entries(snapshot.categories)) {
      const counters = {} as Counters
      for (const name of COUNTER_NAMES) {
        counters[name] = metrics[name]
        rest[name] -= metrics[name]
      }
      add(namespace, category, counters)
    }
    add(namespace, NO_CATEGORY, rest)
  }
  for (const row of rows.values()) {
    const { hits, staleHits, misses } = row.counters
    const served = hits + staleHits + misses
    row.hitRate = served === 0 ? 0 : (hits + staleHits) / served
  }
  return [...rows.values()]
}

/** The labels of one exported sample: always the namespace; the category and result where the family has them. */
export interface SampleLabels {
  namespace: string
  category?: string
  result?: string
}

/**
 * A counter both exporters publish, and how each of its samples derives from a row: per result (whose
 * samples sum to the counter's total), or one value. `perCategory` false: summed to one sample per namespace.
 */
export interface CounterFamily {
  /** `requests` becomes `cacheward_requests_total` in Prometheus and `cacheward.requests` in OpenTelemetry. */
  name: string
  help: string
  perCategory: boolean
  results?: Readonly<Record<string, (c: Counters) => number>>
  value?: (c: Counters) => number
}

export const COUNTER_FAMILIES: readonly CounterFamily[] = [
  {
    name: 'requests',
    help: 'get/getOrSet calls by how they were answered: hit (fresh), stale, miss (loaded or nothing).',
    perCategory: true,
    results: { hit: (c) => c.hits, stale: (c) => c.staleHits, miss: (c) => c.misses },
  },
  {
    name: 'l1_hits',
    help: 'Hits the in-process tier (l1) answered with no backend command; also counted in requests{result="hit"}.',
    perCategory: true,
    value: (c) => c.l1Hits,
  },
  {
    name: 'loads',
    help: 'Loader calls by outcome: ok, error (threw or failed the schema), timeout (hardTimeout).',
    perCategory: true,
    results: {
      ok: (c) => c.loads - c.loadErrors,
      error: (c) => c.loadErrors - c.loadTimeouts,
      timeout: (c) => c.loadTimeouts,
    },
  },
  {
    name: 'lock_waits',
    help: 'Calls that waited for another process loading the same key: ok (value or lock came), timeout (lockWait ran out).',
    perCategory: true,
    results: { ok: (c) => c.lockWaits - c.lockTimeouts, timeout: (c) => c.lockTimeouts },
  },
  {
    name: 'refreshes',
    help: 'Background refreshes that loaded a new value.',
    perCategory: true,
    value: (c) => c.refreshes,
  },
  {
    name: 'oversized',
    help: 'Values not stored because their stored form was over maxValueBytes (returned by getOrSet, refused by set).',
    perCategory: true,
    value: (c) => c.oversized,
  },
  {
    name: 'backend_errors',
    help: 'Backend failures (down, timing out, garbage).',
    perCategory: false,
    value: (c) => c.errors,
  },
  {
    name: 'invalidations',
    help: 'Successful delete, invalidateTags, invalidatePattern and clear calls.',
    perCategory: false,
    value: (c) => c.invalidations,
  },
]

/**
 * The samples of one family over some rows (of one client or several), one per label set: rows with the
 * same labels (two clients of one namespace, or every category of a totals-only family) are added up.
 */
export function samplesOf(family: CounterFamily, rows: readonly Row[]): Array<{ labels: SampleLabels; value: number }> {
  const samples = new Map<string, { labels: SampleLabels; value: number }>()
  const add = (labels: SampleLabels, value: number) => {
    const id = `${labels.namespace}\u0000${labels.category ?? ''}\u0000${labels.result ?? ''}`
    const sample = samples.get(id)
    if (sample) sample.value += value
    else samples.set(id, { labels, value })
  }
  for (const { namespace, category, counters } of rows) {
    const base: SampleLabels = family.perCategory ? { namespace, category } : { namespace }
    if (family.results) {
      for (const [result, of] of Object.entries(family.results)) add({ ...base, result }, of(counters))
    } else {
      add(base, family.value?.(counters) ?? 0)
    }
  }
  return [...samples.values()]
}

/**
 * The category labels of samples taken from events: the label the client's own metrics counted the call under (so
 * a histogram's series match the counters' and `metrics()`, after `resetMetrics()` too); with metrics off, bounded
 * here the same way.
 */
export class CategoryLabels {
  readonly #seen = new Set<string>()
  readonly #counted: ((category: string) => string | undefined) | undefined

  constructor(snapshot: MetricsSnapshot, cache?: CacheClient) {
    for (const name of Object.keys(snapshot.categories)) if (name !== OTHER_CATEGORY) this.#seen.add(name)
    const counted = (cache as { [CATEGORY_LABEL]?: unknown } | undefined)?.[CATEGORY_LABEL]
    this.#counted = typeof counted === 'function' ? (counted as (category: string) => string | undefined) : undefined
  }

  label(category: string | undefined): string {
    if (category === undefined) return NO_CATEGORY
    const counted = this.#counted?.(category)
    if (counted !== undefined) return counted
    if (this.#seen.has(category)) return category
    if (this.#seen.size >= MAX_CATEGORIES) return OTHER_CATEGORY
    this.#seen.add(category)
    return category
  }
}

/** 1 per namespace while any of its clients' circuit breakers is open, else 0. */
export function circuitOpen(snapshots: readonly MetricsSnapshot[]): Map<string, number> {
  const open = new Map<string, number>()
  for (const snapshot of snapshots) {
    const namespace = snapshot.namespace ?? ''
    open.set(namespace, Math.max(open.get(namespace) ?? 0, snapshot.circuit === 'open' ? 1 : 0))
  }
  return open
}

/** Per namespace, the in-process tiers of its clients added up: entries now, evictions so far. Absent without l1. */
export function l1State(snapshots: readonly MetricsSnapshot[]): Map<string, { entries: number; evictions: number }> {
  const state = new Map<string, { entries: number; evictions: number }>()
  for (const snapshot of snapshots) {
    if (!snapshot.l1) continue
    const namespace = snapshot.namespace ?? ''
    const sum = state.get(namespace) ?? { entries: 0, evictions: 0 }
    sum.entries += snapshot.l1.entries
    sum.evictions += snapshot.l1.evictions
    state.set(namespace, sum)
  }
  return state
}

/** One cache and what labels its event samples. */
export interface Watched {
  cache: CacheClient
  namespace: string
  categories: CategoryLabels
}

export function watch(caches: CacheClient | readonly CacheClient[]): Watched[] {
  const list = Array.isArray(caches) ? (caches as readonly CacheClient[]) : [caches as CacheClient]
  return list.map((cache) => {
    const snapshot = cache.metrics()
    return { cache, namespace: snapshot.namespace ?? '', categories: new CategoryLabels(snapshot, cache) }
  })
}
