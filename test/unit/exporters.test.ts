import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory.js'
import type { CacheAdapter, CacheClient, CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { instrumentOpenTelemetry } from '../../src/integrations/opentelemetry.js'
import { registerPrometheus } from '../../src/integrations/prometheus.js'

const clients: CacheClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})
const make = (options: CacheClientOptions = {}) => {
  const cache = createCacheClient({ namespace: 'chat', ...options })
  clients.push(cache)
  return cache
}

/**
 * A memory store standing in for a shared backend, so `l1` can be on: its subscription is live at once (no other
 * process writes to it, so no announcement ever comes).
 */
const sharedStore = (): CacheAdapter => ({
  // Without the in-process store's synchronous reads: a shared backend has none.
  ...(({ freshSync: _f, stampsSync: _s, ...shared }) => shared)(memoryAdapter()),
  name: 'shared-store',
  subscribe: (listener) => {
    listener.live(true)
    return () => {}
  },
})

/** A miss, a backend hit that fills the tier, then `hits` hits from the tier, for each key. */
async function tierHits(cache: CacheClient, keys: string[], hits: number) {
  for (const key of keys) {
    await cache.getOrSet(key, () => key, { category: 'rooms' })
    await cache.getOrSet(key, () => key, { category: 'rooms' })
    for (let i = 0; i < hits; i++) await cache.getOrSet(key, () => key, { category: 'rooms' })
  }
}

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the Prometheus text exposition format (version 0.0.4): TYPE lines and samples. */
function parseExposition(text: string) {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) {
      types.set(type[1] as string, type[2] as string)
      continue
    }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return { types, samples }
}

const value = (samples: Sample[], name: string, labels: Record<string, string>) => {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`)
  return (found[0] as Sample).value
}

describe('cacheward/prometheus', () => {
  it('exposes counters by namespace, category and result that add up to metrics()', async () => {
    const registry = new Registry()
    const cache = make()
    registerPrometheus(cache, { registry })
    await cache.getOrSet('stats', () => 1, { category: 'stats' })
    await cache.getOrSet('stats', () => 1, { category: 'stats' })
    await cache.getOrSet('stats', () => 1, { category: 'stats' })
    await cache.getOrSet('search:a', () => 1, { category: 'search' })
    await cache.getOrSet('plain', () => 1)
    await cache.getOrSet('broken', () => Promise.reject(new Error('db down')), { category: 'search' }).catch(() => {})
    await cache.invalidateTags(['x'])

    const { types, samples } = parseExposition(await registry.metrics())
    expect(types.get('cacheward_requests_total')).toBe('counter')
    expect(types.get('cacheward_hit_ratio')).toBe('gauge')
    expect(types.get('cacheward_hit_duration_seconds')).toBe('histogram')
    const req = (category: string, result: string) =>
      value(samples, 'cacheward_requests_total', { namespace: 'chat', category, result })
    expect([req('stats', 'hit'), req('stats', 'miss'), req('search', 'miss'), req('(none)', 'miss')]).toEqual([
      2, 1, 2, 1,
    ])
    expect(value(samples, 'cacheward_loads_total', { category: 'search', result: 'error' })).toBe(1)
    expect(value(samples, 'cacheward_loads_total', { category: 'search', result: 'ok' })).toBe(1)
    expect(value(samples, 'cacheward_hit_ratio', { category: 'stats' })).toBeCloseTo(2 / 3)
    expect(value(samples, 'cacheward_invalidations_total', { namespace: 'chat' })).toBe(1)
    expect(value(samples, 'cacheward_circuit_open', { namespace: 'chat' })).toBe(0)
    // Summed over categories, the series give the totals of metrics().
    const total = samples
      .filter((s) => s.name === 'cacheward_requests_total' && s.labels.result === 'miss')
      .reduce((sum, s) => sum + s.value, 0)
    expect(total).toBe(cache.metrics().misses)
    // Histograms: one hit sample per served hit, one load sample per load.
    expect(value(samples, 'cacheward_hit_duration_seconds_count', { category: 'stats' })).toBe(2)
    expect(value(samples, 'cacheward_load_duration_seconds_count', { category: 'search', result: 'error' })).toBe(1)
  })

  it('bounds the category label: 200 categories become at most 64 plus (other) and (none)', async () => {
    const registry = new Registry()
    const cache = make()
    registerPrometheus(cache, { registry })
    for (let i = 0; i < 200; i++) await cache.getOrSet(`k${i}`, () => i, { category: `user-${i}` })
    for (let i = 0; i < 200; i++) await cache.getOrSet(`k${i}`, () => i, { category: `user-${i}` })
    const { samples } = parseExposition(await registry.metrics())
    const categories = new Set(samples.filter((s) => s.labels.category).map((s) => s.labels.category))
    expect(categories.size).toBeLessThanOrEqual(66)
    expect(categories.has('(other)')).toBe(true)
    expect(value(samples, 'cacheward_requests_total', { category: '(other)', result: 'hit' })).toBe(136)
    expect(value(samples, 'cacheward_hit_duration_seconds_count', { category: '(other)' })).toBe(136)
  })

  it('adds up clients that share a namespace, one series per label set', async () => {
    const registry = new Registry()
    const [a, b] = [make(), make()]
    registerPrometheus([a, b], { registry })
    await a.getOrSet('x', () => 1, { category: 'rooms' })
    await b.getOrSet('x', () => 1, { category: 'rooms' })
    await b.getOrSet('x', () => 1, { category: 'rooms' })
    await b.delete('x')
    const { samples } = parseExposition(await registry.metrics())
    expect(value(samples, 'cacheward_requests_total', { category: 'rooms', result: 'miss' })).toBe(2)
    expect(value(samples, 'cacheward_requests_total', { category: 'rooms', result: 'hit' })).toBe(1)
    expect(value(samples, 'cacheward_hit_ratio', { category: 'rooms' })).toBeCloseTo(1 / 3)
    expect(value(samples, 'cacheward_invalidations_total', { namespace: 'chat' })).toBe(1)
  })

  it('unregisters its metrics and listeners', async () => {
    const registry = new Registry()
    const cache = make()
    const registration = registerPrometheus(cache, { registry, prefix: 'app_cache_' })
    expect(await registry.metrics()).toContain('app_cache_requests_total')
    registration.unregister()
    expect(await registry.metrics()).toBe('\n')
    registerPrometheus(cache, { registry, prefix: 'app_cache_' }) // the names are free again
  })
})

describe('the category label of both exporters', () => {
  /** Distinct values of the `category` label over every series of the registry. */
  const categoryLabels = async (registry: Registry) =>
    new Set([...(await registry.metrics()).matchAll(/category="([^"]*)"/g)].map((m) => m[1] as string))

  it('stays within 64 names, (other) and (none), whichever events the categories first appear in', async () => {
    const cache = make()
    const registry = new Registry()
    registerPrometheus(cache, { registry })
    // 64 categories first seen as get() misses fill metrics()' bound; 64 more that only ever hit fold into (other).
    for (let i = 0; i < 64; i++) await cache.get(`missing:${i}`, { category: `read-${i}` })
    for (let i = 0; i < 64; i++) await cache.set(`k:${i}`, i)
    for (let i = 0; i < 64; i++) await cache.get(`k:${i}`, { category: `hit-${i}` })
    expect(Object.keys(cache.metrics().categories)).toHaveLength(65)
    // The old code labelled hit latencies by its own first-come set: 130 names.
    expect((await categoryLabels(registry)).size).toBeLessThanOrEqual(66)
  })

  it('is the one metrics() counts the call under, after resetMetrics() too (Prometheus and OpenTelemetry)', async () => {
    const cache = make()
    const registry = new Registry()
    registerPrometheus(cache, { registry })
    class Reader extends MetricReader {
      protected override async onForceFlush() {}
      protected override async onShutdown() {}
    }
    const reader = new Reader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
    instrumentOpenTelemetry(cache, { meter: new MeterProvider({ readers: [reader] }).getMeter('test'), spans: false })
    for (let i = 0; i < 64; i++) await cache.getOrSet(`a:${i}`, () => i, { category: `old-${i}` })
    // Per interval, as docs/08 suggests: counters and categories start again.
    cache.resetMetrics()
    await cache.getOrSet('fresh', () => 1, { category: 'rooms' })
    await cache.getOrSet('fresh', () => 1, { category: 'rooms' })
    expect(Object.keys(cache.metrics().categories)).toEqual(['rooms'])
    // The hit's latency sample carries the label its counter does (the old code put it under (other)).
    expect(await registry.metrics()).toMatch(/cacheward_hit_duration_seconds_count\{[^}]*category="rooms"[^}]*\} 1/)
    const { resourceMetrics } = await reader.collect()
    const hitLabels = resourceMetrics.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .filter((m) => m.descriptor.name === 'cacheward.hit.duration')
      .flatMap((m) => m.dataPoints.map((p) => p.attributes['cacheward.category']))
    expect(hitLabels).toEqual(['rooms'])
  })
})

describe('the in-process tier in both exporters', () => {
  it('Prometheus: l1 hits by category, the tier’s entries and its evictions', async () => {
    const registry = new Registry()
    const cache = make({ adapter: sharedStore(), l1: { maxEntries: 2 } })
    registerPrometheus(cache, { registry })
    await tierHits(cache, ['a', 'b', 'c'], 2)
    const { types, samples } = parseExposition(await registry.metrics())
    expect(types.get('cacheward_l1_hits_total')).toBe('counter')
    expect(value(samples, 'cacheward_l1_hits_total', { namespace: 'chat', category: 'rooms' })).toBe(6)
    expect(value(samples, 'cacheward_l1_entries', { namespace: 'chat' })).toBe(2)
    expect(value(samples, 'cacheward_l1_evictions_total', { namespace: 'chat' })).toBe(1)
    expect(cache.metrics()).toMatchObject({ l1Hits: 6, l1: { live: true, entries: 2, evictions: 1 } })
  })

  it('OpenTelemetry: the same three series', async () => {
    class Reader extends MetricReader {
      protected override async onForceFlush() {}
      protected override async onShutdown() {}
    }
    const reader = new Reader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
    const meter = new MeterProvider({ readers: [reader] }).getMeter('test')
    const cache = make({ adapter: sharedStore(), l1: { maxEntries: 2 } })
    instrumentOpenTelemetry(cache, { meter, spans: false })
    await tierHits(cache, ['a', 'b', 'c'], 2)
    const { resourceMetrics } = await reader.collect()
    const points = new Map(
      resourceMetrics.scopeMetrics.flatMap((scope) =>
        scope.metrics.map((m) => [m.descriptor.name, m.dataPoints.map((p) => p.value)] as const),
      ),
    )
    // Per category: 'rooms', and '(none)' (what no category claimed), so the points add up to the total.
    expect(points.get('cacheward.l1_hits')).toEqual([6, 0])
    expect(points.get('cacheward.l1.entries')).toEqual([2])
    expect(points.get('cacheward.l1.evictions')).toEqual([1])
  })
})

describe('cacheward/opentelemetry', () => {
  class TestReader extends MetricReader {
    constructor() {
      super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
    }
    protected override async onForceFlush() {}
    protected override async onShutdown() {}
  }
  const spans = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  const contextManager = new AsyncLocalStorageContextManager()
  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable())
  })
  afterAll(() => {
    context.disable()
  })
  afterEach(() => spans.reset())

  async function collect(reader: TestReader) {
    const { resourceMetrics } = await reader.collect()
    const points = new Map<string, Array<{ attributes: Record<string, unknown>; value: unknown }>>()
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        points.set(
          metric.descriptor.name,
          metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
        )
      }
    }
    return points
  }

  it('reports counters and duration histograms on a real SDK meter', async () => {
    const reader = new TestReader()
    const meter = new MeterProvider({ readers: [reader] }).getMeter('test')
    const cache = make()
    instrumentOpenTelemetry(cache, { meter, tracer: tracerProvider.getTracer('test') })
    await cache.getOrSet('a', () => 1, { category: 'rooms' })
    await cache.getOrSet('a', () => 1, { category: 'rooms' })
    const points = await collect(reader)
    const requests = points.get('cacheward.requests') ?? []
    const hit = requests.find(
      (p) => p.attributes['cacheward.category'] === 'rooms' && p.attributes['cacheward.result'] === 'hit',
    )
    expect(hit?.value).toBe(1)
    expect(hit?.attributes['cacheward.namespace']).toBe('chat')
    const loadHistogram = points.get('cacheward.load.duration')?.[0]?.value as { count: number }
    expect(loadHistogram.count).toBe(1)
    const hitHistogram = points.get('cacheward.hit.duration')?.[0]?.value as { count: number }
    expect(hitHistogram.count).toBe(1)
  })

  it('adds up clients that share a namespace instead of reporting one of them', async () => {
    const reader = new TestReader()
    const meter = new MeterProvider({ readers: [reader] }).getMeter('test')
    const [a, b] = [make(), make()]
    instrumentOpenTelemetry([a, b], { meter, spans: false })
    await a.getOrSet('x', () => 1)
    await b.getOrSet('x', () => 1)
    const misses = (await collect(reader))
      .get('cacheward.requests')
      ?.filter((p) => p.attributes['cacheward.result'] === 'miss' && p.attributes['cacheward.category'] === '(none)')
    expect(misses?.map((p) => p.value)).toEqual([2])
  })

  it('records a load span as a child of the request span that caused it, with the error type when it fails', async () => {
    const tracer = tracerProvider.getTracer('test')
    const cache = make()
    instrumentOpenTelemetry(cache, { meter: new MeterProvider().getMeter('unused'), tracer })
    const parentId = await tracer.startActiveSpan('GET /rooms', async (parent) => {
      await cache.getOrSet('rooms', async () => {
        await new Promise((r) => setTimeout(r, 20))
        return ['r1']
      })
      await cache.getOrSet('secret-loader', () => Promise.reject(new RangeError('password=hunter2'))).catch(() => {})
      parent.end()
      return parent.spanContext().spanId
    })
    const loadSpans = spans.getFinishedSpans().filter((s) => s.name === 'cacheward.load')
    expect(loadSpans).toHaveLength(2)
    const [ok, failed] = loadSpans
    expect(ok?.parentSpanContext?.spanId).toBe(parentId)
    expect(ok?.attributes).toMatchObject({ 'cacheward.key': 'rooms', 'cacheward.result': 'ok' })
    const ms = (ok?.duration[0] ?? 0) * 1000 + (ok?.duration[1] ?? 0) / 1e6
    expect(ms).toBeGreaterThanOrEqual(15)
    expect(failed?.status).toMatchObject({ code: 2, message: 'RangeError' })
    expect(JSON.stringify(loadSpans.map((s) => [s.attributes, s.status, s.events]))).not.toContain('hunter2')
  })

  it('stops when uninstrumented', async () => {
    const reader = new TestReader()
    const meter = new MeterProvider({ readers: [reader] }).getMeter('test')
    const failing: CacheAdapter = memoryAdapter()
    const cache = make({ adapter: failing })
    const instrumentation = instrumentOpenTelemetry(cache, { meter, tracer: tracerProvider.getTracer('test') })
    instrumentation.uninstrument()
    await cache.getOrSet('a', () => 1)
    expect(spans.getFinishedSpans()).toHaveLength(0)
    expect((await collect(reader)).get('cacheward.requests') ?? []).toEqual([])
  })
})

it('the OpenTelemetry API is a no-op without an SDK: instrumenting costs nothing and breaks nothing', async () => {
  const cache = make()
  instrumentOpenTelemetry(cache, { tracer: trace.getTracer('none') })
  expect(await cache.getOrSet('a', () => 1)).toBe(1)
})
