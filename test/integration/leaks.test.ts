/**
 * Nothing secret leaves the cache: for a wrong Redis password, an Upstash endpoint answering 401 and
 * 500, and an out-of-memory Redis refusing a large value, every channel a user would look at (thrown
 * errors with their causes and stacks, every event, every pino log line, the Prometheus exposition,
 * OpenTelemetry spans, metrics() and health()) is searched for the password, the token and the value.
 */
import { Writable } from 'node:stream'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createClient } from '@redis/client'
import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClient, CacheEventName } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { instrumentOpenTelemetry } from '../../src/integrations/opentelemetry.js'
import { registerPrometheus } from '../../src/integrations/prometheus.js'
import { keygen } from '../support/keygen.js'
import { startRedisServer } from '../support/redis-server.js'
import { startUpstashRest, type UpstashRestMode } from '../support/upstash-rest.js'

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterAll(async () => {
  for (const step of cleanup.reverse()) await step()
})
const ns = keygen('leak')

const EVENTS: readonly CacheEventName[] = [
  'hit',
  'stale-hit',
  'miss',
  'load',
  'load-error',
  'refresh',
  'invalidate',
  'error',
  'circuit-open',
  'circuit-close',
]

/** Everything an operator could read, as text. */
function render(value: unknown): string {
  if (value instanceof Error) {
    const cause = value.cause === undefined ? '' : `\ncause: ${render(value.cause)}`
    return `${String(value)}\n${value.stack ?? ''}\n${JSON.stringify(value)}${cause}`
  }
  return JSON.stringify(value, (_, v) => (v instanceof Error ? render(v) : v))
}

/** A client over `adapter` wired to every observability channel, and what they all recorded. */
function observed(adapter: CacheAdapter) {
  const seen: string[] = []
  const logLines: string[] = []
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk))
        done()
      },
    }),
  )
  const cache: CacheClient = createCacheClient({
    adapter,
    namespace: ns(),
    timeout: 500,
    logger,
    circuitBreaker: { threshold: 3, duration: '200ms' },
  })
  cleanup.push(() => cache.close())
  for (const event of EVENTS) cache.on(event, (payload) => seen.push(`${event} ${render(payload)}`))
  const registry = new Registry()
  registerPrometheus(cache, { registry })
  const spans = new InMemorySpanExporter()
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }).getTracer('leaks')
  instrumentOpenTelemetry(cache, { tracer })
  const everything = async (extra: unknown[]) =>
    [
      ...seen,
      ...logLines,
      await registry.metrics(),
      render(spans.getFinishedSpans().map((s) => [s.name, s.attributes, s.status, s.events])),
      render(cache.metrics()),
      render(await cache.health()),
      ...extra.map(render),
    ].join('\n')
  return { cache, seen, logLines, everything }
}

/** Runs every kind of call, keeping what each threw. */
async function exercise(cache: CacheClient, secretValue: string) {
  const thrown: unknown[] = []
  const keep = (p: Promise<unknown>) => p.catch((error: unknown) => void thrown.push(error))
  const answered = await cache.getOrSet('profile', () => ({ note: secretValue }))
  await keep(cache.set('profile', { note: secretValue }, { tags: ['users'] }))
  await keep(cache.get('profile'))
  await keep(cache.invalidateTags(['users']))
  await keep(cache.delete('profile'))
  await keep(cache.invalidatePattern('prof*'))
  return { answered, thrown }
}

describe('no password, token or cached value reaches an error, event, log line, label or span [S1]', () => {
  it('a wrong password in the Redis URL', async () => {
    const server = await startRedisServer({ extraArgs: ['--requirepass', 'correct-horse-7731'] })
    cleanup.push(() => server.stop())
    const redis = new Redis(`redis://:wrong-battery-9902@127.0.0.1:${server.port}`, { maxRetriesPerRequest: 1 })
    redis.on('error', () => {})
    cleanup.push(() => redis.disconnect())
    const { cache, seen, logLines, everything } = observed(ioredisAdapter(redis))
    const { answered, thrown } = await exercise(cache, 'value-secret-4471')
    expect(answered).toEqual({ note: 'value-secret-4471' }) // the loader answered the read
    expect(thrown.length).toBeGreaterThan(0) // the writes surfaced
    expect(seen.some((line) => line.startsWith('error '))).toBe(true)
    expect(logLines.some((line) => line.includes('"level":40'))).toBe(true) // pino's warn
    const text = await everything(thrown)
    for (const secret of ['wrong-battery-9902', 'correct-horse-7731', 'value-secret-4471']) {
      expect(text).not.toContain(secret)
    }
  })

  it('a wrong password in the Redis URL, through node-redis', async () => {
    const server = await startRedisServer({ extraArgs: ['--requirepass', 'correct-staple-4410'] })
    cleanup.push(() => server.stop())
    const client = createClient({ url: `redis://:wrong-horse-2283@127.0.0.1:${server.port}` })
    client.on('error', () => {})
    client.connect().catch(() => {})
    cleanup.push(() => (client.isOpen ? client.destroy() : undefined))
    const { cache, seen, everything } = observed(nodeRedisAdapter(client))
    const { answered, thrown } = await exercise(cache, 'value-secret-3306')
    expect(answered).toEqual({ note: 'value-secret-3306' })
    expect(thrown.length).toBeGreaterThan(0)
    expect(seen.some((line) => line.startsWith('error '))).toBe(true)
    const text = await everything(thrown)
    for (const secret of ['wrong-horse-2283', 'correct-staple-4410', 'value-secret-3306']) {
      expect(text).not.toContain(secret)
    }
  })

  it.each<UpstashRestMode>(['unauthorized', 'error-500'])('an Upstash endpoint answering %s', async (mode) => {
    const endpoint = await startUpstashRest({ redisUrl: inject('redisUrl'), token: 'tok-upstash-5519' })
    cleanup.push(() => endpoint.stop())
    endpoint.setMode(mode)
    const client = new Upstash({ url: endpoint.url, token: endpoint.token, retry: false })
    const { cache, seen, everything } = observed(upstashAdapter(client))
    const { answered, thrown } = await exercise(cache, 'value-secret-8830')
    expect(answered).toEqual({ note: 'value-secret-8830' })
    expect(thrown.length).toBeGreaterThan(0)
    expect(seen.some((line) => line.startsWith('error '))).toBe(true)
    const text = await everything(thrown)
    expect(text).not.toContain('tok-upstash-5519')
    expect(text).not.toContain('value-secret-8830')
  })

  it('an out-of-memory Redis refusing a large value', async () => {
    const server = await startRedisServer({ extraArgs: ['--requirepass', 'oom-pass-6620'] })
    cleanup.push(() => server.stop())
    const redis = new Redis(`redis://:oom-pass-6620@127.0.0.1:${server.port}`, { maxRetriesPerRequest: 1 })
    cleanup.push(() => redis.disconnect())
    await redis.config('SET', 'maxmemory', '1')
    const { cache, everything } = observed(ioredisAdapter(redis))
    const big = 'value-secret-oom-'.repeat(5_000)
    const { answered, thrown } = await exercise(cache, big)
    expect(answered).toEqual({ note: big })
    expect(thrown.map((e) => String(e)).join('\n')).toMatch(/OOM/)
    const text = await everything(thrown)
    expect(text).not.toContain('value-secret-oom-')
    expect(text).not.toContain('oom-pass-6620')
  })

  it('an out-of-memory Redis refusing a large value, through node-redis', async () => {
    const server = await startRedisServer({ extraArgs: ['--requirepass', 'oom-pass-8127'] })
    cleanup.push(() => server.stop())
    const client = createClient({ url: `redis://:oom-pass-8127@127.0.0.1:${server.port}` })
    client.on('error', () => {})
    await client.connect()
    cleanup.push(() => (client.isOpen ? client.destroy() : undefined))
    await client.configSet('maxmemory', '1')
    const { cache, everything } = observed(nodeRedisAdapter(client))
    const big = 'value-secret-oom-nr-'.repeat(5_000)
    const { answered, thrown } = await exercise(cache, big)
    expect(answered).toEqual({ note: big })
    expect(thrown.map((e) => String(e)).join('\n')).toMatch(/OOM/)
    const text = await everything(thrown)
    expect(text).not.toContain('value-secret-oom-nr-')
    expect(text).not.toContain('oom-pass-8127')
  })
})
