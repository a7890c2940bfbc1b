/**
 * `npx tsx bench/breakdown.ts`: where a cacheward hit's time goes, layer by layer, when run.ts shows a gap.
 * Not part of `npm run bench`: it reaches into src/ (the Lua source, the adapter) to peel the layers apart.
 *
 * Layers, each measured as a hit on the same ~1 KB value, sequential and concurrent:
 *   raw GET         GET + JSON.parse (the limit)
 *   EVALSHA GET     a script that only GETs: the cost of going through the script engine at all
 *   EVALSHA read    cacheward's read script called directly (+ JSON.parse of the body): the script's own cost
 *   adapter.read    ioredisAdapter().read() + JSON.parse: adds the adapter's SHA lookup and reply parsing
 *   getOrSet/GET    the whole client over an adapter whose read is a plain GET (hits only): client-layer cost
 *                   without the script, i.e. what getOrSet would cost if the script were free
 *   getOrSet        the whole client
 * For each: ops/s, node CPU µs per op (process.cpuUsage) and redis-server CPU µs per op (INFO cpu), which
 * tells whether a gap is spent in node (library overhead) or in Redis (script cost).
 * @module
 */
import { type CacheAdapter, createCacheClient, type LockRequest } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'
import { READ_SCRIPT } from '../src/adapters/redis-scripts.js'
import { parseReadReply, readArgs } from '../src/adapters/redis-wire.js'
import { startRedisServer } from '../test/support/redis-server.js'
import { formatInt, formatUs, measure, medianRun, type Op, Recorder, type Run, table } from './lib.js'
import { makeRoom } from './value.js'

const QUICK = process.env.BENCH_QUICK === '1'
const KEYS = 2_000
const ROUNDS = 3
const SLICES = 10
const SEQ_OPS = QUICK ? 2_000 : 20_000
const CONC_OPS = QUICK ? 5_000 : 50_000
const CONCURRENCY = 256
const GET_SCRIPT = "return redis.call('GET', KEYS[1])"

interface Sample {
  run: Run
  nodeUs: number
  redisUs: number
}

async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN)
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6
}

/** One layer's round, measured in slices interleaved with the other layers' (see run.ts for why). */
class Layer {
  readonly recorder: Recorder
  nodeUs = 0
  redisUs = 0

  constructor(readonly count: number) {
    this.recorder = new Recorder(count)
  }

  async slice(probe: Redis, op: Op, from: number, to: number, workers: number): Promise<void> {
    const redisBefore = await redisCpuUs(probe)
    const nodeBefore = process.cpuUsage()
    await this.recorder.run(op, from, to, workers)
    const node = process.cpuUsage(nodeBefore)
    this.redisUs += (await redisCpuUs(probe)) - redisBefore
    this.nodeUs += node.user + node.system
  }

  result(): Sample {
    return { run: this.recorder.result(), nodeUs: this.nodeUs / this.count, redisUs: this.redisUs / this.count }
  }
}

async function main(): Promise<void> {
  const server = await startRedisServer()
  const raw = new Redis(server.url)
  const cw = new Redis(server.url)
  const probe = new Redis(server.url)
  try {
    const value = makeRoom()
    const json = JSON.stringify(value)
    const cache = createCacheClient({ adapter: ioredisAdapter(cw), namespace: 'bd', ttl: '10m' })
    const adapter = ioredisAdapter(cw)
    const loader = () => value
    const real = ioredisAdapter(cw)
    // Valid for fresh hits only: a fresh slot needs no lock, so a GET sees what the script would return.
    const getOnly: CacheAdapter = {
      ...real,
      name: 'get-only',
      read: async (key) => parseReadReply(`R|${Date.now()}|${await cw.get(key)}`),
    }
    const viaGet = createCacheClient({ adapter: getOnly, namespace: 'bd', ttl: '10m' })
    const rawKeys = Array.from({ length: KEYS }, (_, i) => `raw:k${i}`)
    const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`)
    const fullKeys = keys.map((k) => `bd:${k}`)
    await Promise.all(rawKeys.map((k) => raw.set(k, json, 'PX', 600_000)))
    await Promise.all(keys.map((k) => cache.getOrSet(k, loader)))
    const getSha = (await raw.script('LOAD', GET_SCRIPT)) as string
    const readSha = (await raw.script('LOAD', READ_SCRIPT)) as string
    // The lock getOrSet asks for; on a fresh entry the script returns the slot without taking it.
    const lock: LockRequest = { token: 'f'.repeat(32), ttl: 10_000, keep: 60_000 }
    const scriptArgs = readArgs(lock, 0)

    const layers: [string, Op][] = [
      ['raw GET + parse', async (i) => JSON.parse((await raw.get(rawKeys[i % KEYS] as string)) as string)],
      [
        'EVALSHA GET + parse',
        async (i) => JSON.parse((await raw.evalsha(getSha, 1, rawKeys[i % KEYS] as string)) as string),
      ],
      [
        'EVALSHA read script + parse',
        async (i) => {
          const reply = (await cw.evalsha(readSha, 1, fullKeys[i % KEYS] as string, ...scriptArgs)) as string
          return JSON.parse(reply.slice(reply.indexOf('\n') + 1))
        },
      ],
      [
        'adapter.read + parse',
        async (i) => {
          const reply = await adapter.read(fullKeys[i % KEYS] as string, lock)
          return JSON.parse(reply.slot?.body ?? 'null')
        },
      ],
      ['getOrSet/GET-only adapter', (i) => viaGet.getOrSet(keys[i % KEYS] as string, loader)],
      ['getOrSet', (i) => cache.getOrSet(keys[i % KEYS] as string, loader)],
    ]

    const rows: string[][] = []
    for (const [mode, count, workers] of [
      ['sequential', SEQ_OPS, 1],
      [`${CONCURRENCY} concurrent`, CONC_OPS, CONCURRENCY],
    ] as const) {
      for (const [, op] of layers) await measure(op, 2_000, workers)
      const samples = new Map<string, Sample[]>()
      const perSlice = Math.ceil(count / SLICES)
      for (let round = 0; round < ROUNDS; round++) {
        const current = layers.map(() => new Layer(count))
        for (let sl = 0; sl < SLICES; sl++) {
          const from = sl * perSlice
          const to = Math.min(count, from + perSlice)
          for (let k = 0; k < layers.length; k++) {
            const index = (k + round + sl) % layers.length
            await current[index]?.slice(probe, layers[index]?.[1] as Op, from, to, workers)
          }
        }
        layers.forEach(([name], index) => {
          samples.set(name, [...(samples.get(name) ?? []), (current[index] as Layer).result()])
        })
      }
      const base = medianRun((samples.get('raw GET + parse') ?? []).map((s) => s.run)).opsPerSec
      for (const [name] of layers) {
        const all = samples.get(name) ?? []
        const median = medianRun(all.map((s) => s.run))
        const s = all.find((x) => x.run === median) as Sample
        rows.push([
          mode,
          name,
          formatInt(median.opsPerSec),
          `${(median.opsPerSec / base).toFixed(2)}x`,
          formatUs(median.p50Us),
          formatUs(median.p99Us),
          s.nodeUs.toFixed(1),
          s.redisUs.toFixed(1),
        ])
      }
    }
    const head = ['mode', 'layer', 'ops/s', 'vs raw', 'p50 µs', 'p99 µs', 'node CPU µs/op', 'redis CPU µs/op']
    const align = head.map((_, c) => (c < 2 ? 'left' : 'right') as 'left' | 'right')
    process.stdout.write(`${table(head, rows, align)}\n`)
    const stats = await probe.info('commandstats')
    process.stdout.write(
      `\n${stats
        .split('\n')
        .filter((l) => /cmdstat_(get|evalsha|set):/.test(l))
        .join('\n')}\n`,
    )
    await Promise.all([cache.close(), viaGet.close()])
  } finally {
    for (const c of [raw, cw, probe]) c.disconnect()
    await server.stop()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`breakdown failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
