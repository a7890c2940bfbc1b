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
import { rowsOf, type Watched, watch } from './series.js'

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

  const requests = meter.createObservableCounter('cacheward.requests', {
    description: 'get/getOrSet calls by how they were answered: hit (fresh), stale, miss (loaded or nothing).',
  })
  const loads = meter.createObservableCounter('cacheward.loads', {
    description: 'Loader calls by outcome: ok, error (threw or failed the schema), timeout (hardTimeout).',
  })
  const lockWaits = meter.createObservableCounter('cacheward.lock_waits', {
    description: 'Calls that waited for another process loading the same key: ok, or timeout (lockWait ran out).',
  })
  const refreshes = meter.createObservableCounter('cacheward.refreshes', {
    description: 'Background refreshes that loaded a new value.',
  })
  const errors = meter.createObservableCounter('cacheward.backend_errors', {
    description: 'Backend failures (down, timing out, garbage).',
  })
  const invalidations = meter.createObservableCounter('cacheward.invalidations', {
    description: 'Successful delete, invalidateTags, invalidatePattern and clear calls.',
  })
  const circuit = meter.createObservableGauge('cacheward.circuit.open', {
    description: '1 while the circuit breaker skips the backend, else 0.',
  })
  const hitDuration = meter.createHistogram('cacheward.hit.duration', {
    description: 'Time from call to answer of calls served from the cache (fresh or stale).',
    unit: 's',
  })
  const loadDuration = meter.createHistogram('cacheward.load.duration', {
    description: 'Loader call durations, by outcome (ok, error).',
    unit: 's',
  })

  const observables = [requests, loads, lockWaits, refreshes, errors, invalidations, circuit]
  const observe = (result: { observe(o: (typeof observables)[number], value: number, a?: Attributes): void }) => {
    for (const w of watched) {
      const snapshot = w.cache.metrics()
      result.observe(circuit, snapshot.circuit === 'open' ? 1 : 0, { 'cacheward.namespace': w.namespace })
      for (const { namespace, category, counters: c } of rowsOf(snapshot)) {
        const at = (extra?: Attributes): Attributes => ({
          'cacheward.namespace': namespace,
          'cacheward.category': category,
          ...extra,
        })
        result.observe(requests, c.hits, at({ 'cacheward.result': 'hit' }))
        result.observe(requests, c.staleHits, at({ 'cacheward.result': 'stale' }))
        result.observe(requests, c.misses, at({ 'cacheward.result': 'miss' }))
        result.observe(loads, c.loads - c.loadErrors, at({ 'cacheward.result': 'ok' }))
        result.observe(loads, c.loadErrors - c.loadTimeouts, at({ 'cacheward.result': 'error' }))
        result.observe(loads, c.loadTimeouts, at({ 'cacheward.result': 'timeout' }))
        result.observe(lockWaits, c.lockWaits - c.lockTimeouts, at({ 'cacheward.result': 'ok' }))
        result.observe(lockWaits, c.lockTimeouts, at({ 'cacheward.result': 'timeout' }))
        result.observe(refreshes, c.refreshes, at())
        if (category === '(none)') {
          // Totals-only counters, once per client.
          result.observe(errors, snapshot.errors, { 'cacheward.namespace': namespace })
          result.observe(invalidations, snapshot.invalidations, { 'cacheward.namespace': namespace })
        }
      }
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
