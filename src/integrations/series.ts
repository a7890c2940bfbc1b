/**
 * What the Prometheus and OpenTelemetry exporters share: a snapshot turned into labelled rows, and
 * the bound on category labels for samples taken from events. Not a public entry point.
 * @module
 */
import type { CacheClient } from '../client.js'
import { type Counters, MAX_CATEGORIES, type MetricsSnapshot } from '../metrics.js'

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
  'staleHits',
  'misses',
  'loads',
  'loadErrors',
  'loadTimeouts',
  'errors',
  'lockWaits',
  'lockTimeouts',
  'refreshes',
  'invalidations',
] as const satisfies readonly (keyof Counters)[]

/**
 * One row per category, plus a `(none)` row holding what no category claimed (totals minus the
 * categories), so summing over categories gives the client's totals. At most 66 rows per client.
 */
export function rowsOf(snapshot: MetricsSnapshot): Row[] {
  const namespace = snapshot.namespace ?? ''
  const rows: Row[] = []
  const rest = {} as Counters
  for (const name of COUNTER_NAMES) rest[name] = snapshot[name]
  for (const [category, metrics] of Object.entries(snapshot.categories)) {
    const counters = {} as Counters
    for (const name of COUNTER_NAMES) {
      counters[name] = metrics[name]
      rest[name] -= metrics[name]
    }
    rows.push({ namespace, category, counters, hitRate: metrics.hitRate })
  }
  const served = rest.hits + rest.staleHits + rest.misses
  rows.push({
    namespace,
    category: NO_CATEGORY,
    counters: rest,
    hitRate: served === 0 ? 0 : (rest.hits + rest.staleHits) / served,
  })
  return rows
}

/** Bounds the category labels of samples taken from events, as `metrics()` bounds its categories. */
export class CategoryLabels {
  readonly #seen = new Set<string>()

  constructor(snapshot: MetricsSnapshot) {
    for (const name of Object.keys(snapshot.categories)) if (name !== OTHER_CATEGORY) this.#seen.add(name)
  }

  label(category: string | undefined): string {
    if (category === undefined) return NO_CATEGORY
    if (this.#seen.has(category)) return category
    if (this.#seen.size >= MAX_CATEGORIES) return OTHER_CATEGORY
    this.#seen.add(category)
    return category
  }
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
    return { cache, namespace: snapshot.namespace ?? '', categories: new CategoryLabels(snapshot) }
  })
}
