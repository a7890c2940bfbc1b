/**
 * `cacheward/opentelemetry`: a client's metrics and its loads as spans, through `@opentelemetry/api`.
 *
 * @example
 * import { instrumentOpenTelemetry } from 'cacheward/opentelemetry'
 *
 * instrumentOpenTelemetry(cache) // the global MeterProvider and TracerProvider; or { meter, tracer }
 *
 * Why `@opentelemetry/api` and the client's events rather than `node:diagnostics_channel`: the core
 * runs where `fetch` runs (edge runtimes included), so it imports no Node built-in; events exist on
 * every runtime, and the API package is a no-op until the app installs an SDK. A load span is
 * recorded when the load ends, with its measured start time, inside the async context of the call
 * that started the load, so it becomes a child of that request's active span.
 * @module
 */
import { type Attributes, type Meter, metrics, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api'
import type { CacheClient } from '../client.js'
import type { CacheEventListener, CacheEventName } from '../events.js'
import {
  COUNTER_FAMILIES,
  circuitOpen,
  l1State,
  rowsOf,
  type SampleLabels,
  samplesOf,
  type Watched,
  watch,
} from './series.js'

/** Options of {@link instrumentOpenTelemetry}. */
export interface OpenTelemetryOptions {
  /** @default metrics.getMeter('cacheward') */
  meter?: Meter
  /** @default trace.getTracer('cacheward') */
  tracer?: Tracer
  /** Record a `cacheward.load` span per loader call. @default true */
  spans?: boolean
}

/** What {@link instrumentOpenTelemetry} returns. */
export interface OpenTelemetryInstrumentation {
  /** Stops observing the clients and listening to their events. */
  uninstrument(): void
}

/**
 * Reports one client's metrics (or several clients') as OpenTelemetry instruments, and each loader
 * call as a `cacheward.load` span. Attributes: `cacheward.namespace`, `cacheward.category` (bounded
 * like `metrics()` categories), `cacheward.result`; spans also carry `cacheward.key`. Never a value,
 * a URL or a token; a failed load's span records the error's type, not its message.
 */
export function instrumentOpenTelemetry(
  caches: CacheClient | readonly CacheClient[],
  options: OpenTelemetryOptions = {},
): OpenTelemetryInstrumentation {
  const meter = options.meter ?? metrics.getMeter('cacheward')
  const tracer = options.tracer ?? trace.getTracer('cacheward')
  const watched = watch(caches)

  const counters = COUNTER_FAMILIES.map((family) => ({
    family,
    instrument: meter.createObservableCounter(`cacheward.${family.name}`, { description: family.help }),
  }))
  const circuit = meter.createObservableGauge('cacheward.circuit.open', {
    description: '1 while the circuit breaker skips the backend, else 0.',
  })
  const l1Entries = meter.createObservableGauge('cacheward.l1.entries', {
    description: 'Entries the in-process tier (l1) holds now (clients of a namespace added up).',
  })
  const l1Evictions = meter.createObservableCounter('cacheward.l1.evictions', {
    description: 'Entries the in-process tier (l1) pushed out to stay within maxEntries / maxBytes.',
  })
  const hitDuration = meter.createHistogram('cacheward.hit.duration', {
    description: 'Time from call to answer of calls served from the cache (fresh or stale).',
    unit: 's',
  })
  const loadDuration = meter.createHistogram('cacheward.load.duration', {
    description: 'Loader call durations, by outcome (ok, error).',
    unit: 's',
  })

  const observables = [...counters.map((c) => c.instrument), circuit, l1Entries, l1Evictions]
  const observe = (result: { observe(o: (typeof observables)[number], value: number, a?: Attributes): void }) => {
    const snapshots = watched.map((w) => w.cache.metrics())
    const rows = rowsOf(snapshots)
    for (const { family, instrument } of counters) {
      for (const { labels, value } of samplesOf(family, rows)) result.observe(instrument, value, attributesOf(labels))
    }
    for (const [namespace, value] of circuitOpen(snapshots)) {
      result.observe(circuit, value, { 'cacheward.namespace': namespace })
    }
    for (const [namespace, { entries, evictions }] of l1State(snapshots)) {
      result.observe(l1Entries, entries, { 'cacheward.namespace': namespace })
      result.observe(l1Evictions, evictions, { 'cacheward.namespace': namespace })
    }
  }
  meter.addBatchObservableCallback(observe, observables)

  const stops = watched.flatMap((w) =>
    listen(w, {
      served: (attributes, ms) => hitDuration.record(ms / 1000, attributes),
      loaded: (attributes, ms) => loadDuration.record(ms / 1000, attributes),
      span: options.spans === false ? undefined : tracer,
    }),
  )
  return {
    uninstrument() {
      meter.removeBatchObservableCallback(observe, observables)
      for (const stop of stops) stop()
    },
  }
}

/** `cacheward.`-prefixed attributes, the OpenTelemetry way of namespacing a library's own. */
function attributesOf(labels: SampleLabels): Attributes {
  const attributes: Attributes = { 'cacheward.namespace': labels.namespace }
  if (labels.category !== undefined) attributes['cacheward.category'] = labels.category
  if (labels.result !== undefined) attributes['cacheward.result'] = labels.result
  return attributes
}

interface Sinks {
  served(attributes: Attributes, ms: number): void
  loaded(attributes: Attributes, ms: number): void
  span: Tracer | undefined
}

function listen(w: Watched, sinks: Sinks): Array<() => void> {
  const { cache, namespace, categories } = w
  const on = <E extends CacheEventName>(event: E, listener: CacheEventListener<E>) => {
    cache.on(event, listener)
    return () => cache.off(event, listener)
  }
  const attributes = (category: string | undefined, result?: string): Attributes => ({
    'cacheward.namespace': namespace,
    'cacheward.category': categories.label(category),
    ...(result ? { 'cacheward.result': result } : {}),
  })
  const span = (key: string, category: string | undefined, ms: number, error: unknown) => {
    if (!sinks.span) return
    const end = Date.now()
    const s = sinks.span.startSpan('cacheward.load', {
      kind: SpanKind.INTERNAL,
      startTime: end - ms,
      attributes: { ...attributes(category, error === undefined ? 'ok' : 'error'), 'cacheward.key': key },
    })
    if (error !== undefined) {
      const type = error instanceof Error ? error.name : typeof error
      s.setAttribute('error.type', type)
      s.setStatus({ code: SpanStatusCode.ERROR, message: type })
    }
    s.end(end)
  }
  const served = (e: { category: string | undefined; durationMs: number }) =>
    sinks.served(attributes(e.category), e.durationMs)
  return [
    on('hit', served),
    on('stale-hit', served),
    on('load', (e) => {
      sinks.loaded(attributes(e.category, 'ok'), e.durationMs)
      span(e.key, e.category, e.durationMs, undefined)
    }),
    on('load-error', (e) => {
      sinks.loaded(attributes(e.category, 'error'), e.durationMs)
      span(e.key, e.category, e.durationMs, e.error ?? new Error('undefined'))
    }),
  ]
}
