/**
 * Big-values section of `npm run bench` (`--only big-values`): what a hit and a miss cost for values of 10 KB,
 * 100 KB, 1 MB and 5 MB, beside raw ioredis `GET` + `JSON.parse` of the same JSON; the same with `compress` on
 * (stored size, so the ratio is what Redis holds, base64 included); gzip and gunzip cost per MB of body; and the
 * longest event-loop stall seen while each case ran (a 5 MB value is parsed in one synchronous step).
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { type CacheClient, createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'
import { pack, unpack } from '../src/compress.js'
import { percentile, table } from './lib.js'
import type { BigValueCase, BigValuesResult, Latency } from './results-file.js'
import { quit, type SectionEnv, TTL_MS } from './workload.js'

const KB = 1024
const MB = 1024 * KB

/** Sizes measured, and how many timed operations each gets (fewer for the large ones: each costs milliseconds). */
const SIZES = [
  { label: '10 KB', bytes: 10 * KB, ops: 400 },
  { label: '100 KB', bytes: 100 * KB, ops: 200 },
  { label: '1 MB', bytes: MB, ops: 40 },
  { label: '5 MB', bytes: 5 * MB, ops: 12 },
]

/** Rows of a listing, about `bytes` of JSON: the repetition of real API payloads (field names, similar text). */
export function listing(bytes: number): { id: number; name: string; about: string }[] {
  const out = []
  for (let i = 0; bytes > 0; i++) {
    const row = { id: i, name: `room ${i}`, about: `a meeting room on floor ${i % 40} with ${i % 17} seats` }
    bytes -= JSON.stringify(row).length + 1
    out.push(row)
  }
  return out
}

/** p50 and p99 (ms) of `ops` sequential runs of `op`, and the longest event-loop stall meanwhile (ms). */
async function time(ops: number, op: (i: number) => Promise<unknown>): Promise<Latency> {
  await op(-1) // warm-up, not counted
  const samples = new Float64Array(ops)
  const stalls = monitorEventLoopDelay({ resolution: 1 })
  stalls.enable()
  for (let i = 0; i < ops; i++) {
    const t0 = performance.now()
    await op(i)
    samples[i] = performance.now() - t0
  }
  stalls.disable()
  samples.sort()
  return { p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), maxStallMs: stalls.max / 1e6 }
}

export async function runBigValues(env: SectionEnv): Promise<BigValuesResult> {
  const scale = env.quick ? 4 : 1
  const raw = new Redis(env.url)
  const cw = new Redis(env.url)
  const anomalies: string[] = []
  const cases: BigValueCase[] = []
  // The bound is lifted: this measures the cost of storing big values, not of refusing them.
  const client = (compress: boolean, namespace: string): CacheClient =>
    createCacheClient({
      adapter: ioredisAdapter(cw),
      namespace,
      ttl: TTL_MS,
      timeout: '10s',
      maxValueBytes: 16 * MB,
      compress,
    })
  try {
    for (const size of SIZES) {
      const ops = Math.max(3, Math.round(size.ops / scale))
      const value = listing(size.bytes)
      const json = JSON.stringify(value)
      env.log(`big-values ${size.label}...`)
      const rawKey = `${env.runId}:big:raw:${size.label}`
      await raw.set(rawKey, json)
      const rawGet = await time(ops, async () => JSON.parse((await raw.get(rawKey)) as string))

      const sides = {} as Record<'plain' | 'compressed', { hit: Latency; miss: Latency; storedBytes: number }>
      for (const side of ['plain', 'compressed'] as const) {
        const namespace = `${env.runId}:big:${side}:${size.label.replace(' ', '')}`
        const cache = client(side === 'compressed', namespace)
        let loads = 0
        const loader = () => {
          loads++
          return value
        }
        const miss = await time(ops, (i) => cache.getOrSet(`m${i}`, loader))
        await cache.getOrSet('hot', loader)
        const before = loads
        const hit = await time(ops, async () => {
          const got = await cache.getOrSet('hot', loader)
          if ((got as unknown[]).length !== value.length)
            anomalies.push(`${size.label} ${side}: a hit returned another value`)
        })
        if (loads !== before) anomalies.push(`${size.label} ${side}: ${loads - before} hits called the loader`)
        if (cache.metrics().oversized > 0 || cache.metrics().errors > 0)
          anomalies.push(`${size.label} ${side}: oversized or backend errors counted`)
        const slot = (await raw.get(`${namespace}:hot`)) ?? ''
        sides[side] = { hit, miss, storedBytes: Buffer.byteLength(slot.slice(slot.indexOf('\n') + 1)) }
        await cache.close()
      }

      // The codec alone, in this process: gzip + base64, and back, per MB of body.
      const rounds = Math.max(3, Math.round(ops / 4))
      let gzipMs = 0
      let gunzipMs = 0
      for (let i = 0; i < rounds; i++) {
        const t0 = performance.now()
        const packed = await pack(json, { threshold: 0 }, Number.POSITIVE_INFINITY)
        const t1 = performance.now()
        if ((await unpack(packed.body)) !== json) anomalies.push(`${size.label}: unpack changed the body`)
        gzipMs += t1 - t0
        gunzipMs += performance.now() - t1
      }
      const mbOfBody = Buffer.byteLength(json) / MB
      cases.push({
        label: size.label,
        jsonBytes: Buffer.byteLength(json),
        ops,
        raw: rawGet,
        plain: sides.plain,
        compressed: sides.compressed,
        ratio: sides.compressed.storedBytes / sides.plain.storedBytes,
        gzipMsPerMB: gzipMs / rounds / mbOfBody,
        gunzipMsPerMB: gunzipMs / rounds / mbOfBody,
      })
    }
  } finally {
    await quit(raw, cw)
  }
  return { cases, anomalies }
}

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1))

export function formatBigValues(r: BigValuesResult): string {
  const rows = r.cases.map((c) => [
    c.label,
    `${ms(c.raw.p50Ms)} / ${ms(c.raw.p99Ms)}`,
    `${ms(c.plain.hit.p50Ms)} / ${ms(c.plain.hit.p99Ms)}`,
    `${ms(c.plain.miss.p50Ms)} / ${ms(c.plain.miss.p99Ms)}`,
    `${ms(c.compressed.hit.p50Ms)} / ${ms(c.compressed.hit.p99Ms)}`,
    `${ms(c.compressed.miss.p50Ms)} / ${ms(c.compressed.miss.p99Ms)}`,
    c.ratio.toFixed(3),
    `${ms(c.gzipMsPerMB)} / ${ms(c.gunzipMsPerMB)}`,
    ms(Math.max(c.plain.hit.maxStallMs, c.compressed.hit.maxStallMs)),
  ])
  return [
    'big values: ms p50 / p99, sequential; raw = ioredis GET + JSON.parse; ratio = stored compressed / stored plain',
    table(
      [
        'value',
        'raw get+parse',
        'hit',
        'miss',
        'hit (gzip)',
        'miss (gzip)',
        'ratio',
        'gzip/gunzip ms per MB',
        'max stall ms',
      ],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  ].join('\n')
}
