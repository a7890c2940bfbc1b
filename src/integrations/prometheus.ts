/**
 * `cacheward/prometheus`: a client's metrics on a prom-client registry.
 *
 * @example
 * import { register } from 'prom-client'
 * import { registerPrometheus } from 'cacheward/prometheus'
 *
 * registerPrometheus(cache) // prom-client's default registry; or { registry }
 * app.get('/metrics', async () => new Response(await register.metrics()))
 *
 * Counters are read from `cache.metrics()` when the registry is scraped, so they cost nothing per
 * call; the two duration histograms are fed from the `hit`, `stale-hit`, `load` and `load-error`
 * events. Labels: `namespace` (the client's, never a child's path), `category` (at most 64 distinct,
 * then `(other)`; `(none)` for calls without one) and `result`. No key, value, URL or token is a label.
 * @module
 */
import { Counter, Gauge, Histogram, type Registry, register } from 'prom-client'
import type { CacheClient } from '../client.js'
import type { CacheEventListener, CacheEventName } from '../events.js'
import { COUNTER_FAMILIES, circuitOpen, l1State, rowsOf, samplesOf, type Watched, watch } from './series.js'

/** Options of {@link registerPrometheus}. */
export interface PrometheusOptions {
  /** Where to register. @default prom-client's default `register` */
  registry?: Registry
  /** Prefix of every metric name. @default 'cacheward_' */
  prefix?: string
  /** Buckets of the duration histograms, in seconds. @default 0.0005 s to 10 s */
  buckets?: readonly number[]
}

/** What {@link registerPrometheus} returns. */
export interface PrometheusRegistration {
  /** Removes the metrics from the registry and stops listening to the clients' events. */
  unregister(): void
}

const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Registers the metrics of one client, or of several (their rows are added together where the labels
 * match), on a prom-client registry. Call once per registry; a second call for the same names throws
 * prom-client's "already registered" error.
 */
export function registerPrometheus(
  caches: CacheClient | readonly CacheClient[],
  options: PrometheusOptions = {},
): PrometheusRegistration {
  const registry = options.registry ?? register
  const p = options.prefix ?? 'cacheward_'
  const watched = watch(caches)
  const registers = [registry]
  const rows = () => rowsOf(watched.map((w) => w.cache.metrics()))

  const names: string[] = []
  const made = [
    // Counters are read from the snapshot at each scrape: nothing is counted twice, nothing costs per call.
    ...COUNTER_FAMILIES.map((family) => {
      const labelNames = [
        'namespace',
        ...(family.perCategory ? ['category'] : []),
        ...(family.results ? ['result'] : []),
      ]
      return new Counter({
        name: `${p}${family.name}_total`,
        help: family.help,
        labelNames,
        registers,
        collect() {
          this.reset()
          for (const { labels, value } of samplesOf(family, rows())) this.inc({ ...labels }, value)
        },
      })
    }),
    new Gauge({
      name: `${p}hit_ratio`,
      help: 'Share of calls answered from the cache (hits and stale hits), 0 to 1, since start or reset.',
      labelNames: ['namespace', 'category'],
      registers,
      collect() {
        this.reset()
        for (const { namespace, category, hitRate } of rows()) this.set({ namespace, category }, hitRate)
      },
    }),
    new Gauge({
      name: `${p}l1_entries`,
      help: 'Entries the in-process tier (l1) holds now (clients of a namespace added up).',
      labelNames: ['namespace'],
      registers,
      collect() {
        this.reset()
        for (const [namespace, { entries }] of l1State(watched.map((w) => w.cache.metrics())))
          this.set({ namespace }, entries)
      },
    }),
    new Counter({
      name: `${p}l1_evictions_total`,
      help: 'Entries the in-process tier (l1) pushed out to stay within maxEntries / maxBytes.',
      labelNames: ['namespace'],
      registers,
      collect() {
        this.reset()
        for (const [namespace, { evictions }] of l1State(watched.map((w) => w.cache.metrics())))
          this.inc({ namespace }, evictions)
      },
    }),
    new Gauge({
      name: `${p}circuit_open`,
      help: '1 while the circuit breaker skips the backend, else 0.',
      labelNames: ['namespace'],
      registers,
      collect() {
        this.reset()
        for (const [namespace, value] of circuitOpen(watched.map((w) => w.cache.metrics())))
          this.set({ namespace }, value)
      },
    }),
  ]
  const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)]
  const hitDuration = new Histogram({
    name: `${p}hit_duration_seconds`,
    help: 'Time from call to answer of calls served from the cache (fresh or stale).',
    labelNames: ['namespace', 'category'],
    buckets,
    registers,
  })
  const loadDuration = new Histogram({
    name: `${p}load_duration_seconds`,
    help: 'Loader call durations, by outcome (ok, error).',
    labelNames: ['namespace', 'category', 'result'],
    buckets,
    registers,
  })
  for (const metric of [...made, hitDuration, loadDuration]) names.push((metric as unknown as { name: string }).name)

  const stops = watched.flatMap((w) => listen(w, hitDuration, loadDuration))
  return {
    unregister() {
      for (const stop of stops) stop()
      for (const name of names) registry.removeSingleMetric(name)
    },
  }
}

function listen(w: Watched, hit: Histogram<string>, load: Histogram<string>): Array<() => void> {
  const { cache, namespace, categories } = w
  const on = <E extends CacheEventName>(event: E, listener: CacheEventListener<E>) => {
    cache.on(event, listener)
    return () => cache.off(event, listener)
  }
  const served = (e: { category: string | undefined; durationMs: number }) =>
    hit.observe({ namespace, category: categories.label(e.category) }, e.durationMs / 1000)
  return [
    on('hit', served),
    on('stale-hit', served),
    on('load', (e) =>
      load.observe({ namespace, category: categories.label(e.category), result: 'ok' }, e.durationMs / 1000),
    ),
    on('load-error', (e) =>
      load.observe({ namespace, category: categories.label(e.category), result: 'error' }, e.durationMs / 1000),
    ),
  ]
}
