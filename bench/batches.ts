/**
 * The batches section of `npm run bench` (`--only batches`): `getOrSetMany` of 100 cached keys of the ~1 KB value on
 * standalone Redis, beside raw ioredis MGET + JSON.parse of 100 keys holding the same value (the limit) and 100
 * sequential `getOrSet` calls (code without batches), interleaved; and the commands one batch sends, counted on a client
 * of its own (a first batch, which reads with the script, and a second, which takes the cheap MGET).
 * Targets (issue 15): getOrSetMany ≥ 10× the sequential calls, ≥ 0.8× raw MGET + JSON.parse; 1 script per batch.
 * @module
 */
import { type CacheClient, createCacheClient, type LoadMany } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'
import { type Op, runInterleaved, spreadPercent, table } from './lib.js'
import { BATCH_SIDES, batchRows, batchVerdicts } from './report/batches.js'
import type { BatchesResult, BatchSide as Side } from './results-file.js'
import { quit, ROUNDS, type ValueEnv } from './workload.js'

export const BATCH_TARGETS = { vsSequential: 10, vsRaw: 0.8, roundTrips: 1 }

const KEYS = 100

/**
 * The commands one `getOrSetMany` of `keys` sends, on a new client over the same namespace: its first batch (it found
 * nothing fresh yet: the read script) and its second (the keys found fresh a moment ago: the cheap MGET); the larger
 * count. Counted where the client sends them, so what a script runs inside the server (its own MGET) is not a round
 * trip. The timed clients are never wrapped.
 */
async function roundTripsOf(env: ValueEnv, namespace: string, keys: readonly string[], loadMany: LoadMany<unknown>) {
  const redis = new Redis(env.url)
  let sent = 0
  const send = redis.sendCommand.bind(redis)
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    sent++
    return send(...args)
  }
  const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace })
  try {
    await cache.has('__start__')
    const counts: number[] = []
    for (let i = 0; i < 2; i++) {
      sent = 0
      await cache.getOrSetMany(keys, loadMany)
      counts.push(sent)
    }
    return { roundTrips: Math.max(...counts), counts }
  } finally {
    await cache.close()
    await quit(redis)
  }
}

export async function runBatches(env: ValueEnv): Promise<BatchesResult> {
  const anomalies: string[] = []
  const raw = new Redis(env.url)
  const cw = new Redis(env.url)
  const cache: CacheClient = createCacheClient({ adapter: ioredisAdapter(cw), namespace: `batches:${env.runId}` })
  const keys = Array.from({ length: KEYS }, (_, i) => `room:${i}`)
  const rawKeys = keys.map((k) => `raw:${env.runId}:${k}`)
  let loads = 0
  const loadMany = async (missing: string[]) => {
    loads += missing.length
    return missing.map(() => env.value)
  }
  const load = async () => {
    loads++
    return env.value
  }
  try {
    await raw.mset(...rawKeys.flatMap((k) => [k, env.json]))
    await cache.getOrSetMany(keys, loadMany)
    // The fill above is the only load: every timed batch must be answered from the cache.
    loads = 0
    const sides: Record<Side, () => Promise<unknown>> = {
      'raw MGET + JSON.parse (the limit)': async () => {
        const values = (await raw.mget(...rawKeys)) as (string | null)[]
        return values.map((v) => (v === null ? undefined : JSON.parse(v)))
      },
      'cacheward getOrSetMany': () => cache.getOrSetMany(keys, loadMany),
      'cacheward getOrSet x100, sequential': async () => {
        const out: unknown[] = []
        for (const key of keys) out.push(await cache.getOrSet(key, load))
        return out
      },
    }
    env.log('batches: 100 cached keys per op, getOrSetMany beside raw MGET and sequential getOrSet')
    const { roundTrips, counts } = await roundTripsOf(env, `batches:${env.runId}`, keys, loadMany)
    env.log(`batches: commands sent by one batch: ${counts.join(' (script read), ')} (cheap MGET)`)
    const ops = env.quick ? 200 : 1_000
    const result = await runInterleaved<Side>({
      sides: BATCH_SIDES,
      ops,
      slices: 10,
      workers: 1,
      rounds: ROUNDS,
      warmupOps: ops / 10,
      op: (side): Op => {
        const run = sides[side]
        return () => run()
      },
      verify: async (side) => {
        if (loads > 0) return `${loads} loads during hit rounds (${side})`
        const values = (await sides[side]()) as unknown[]
        if (values.length !== KEYS || values.some((v) => JSON.stringify(v) !== env.json)) return 'wrong values'
        return undefined
      },
    })
    anomalies.push(...result.anomalies)
    const of = <T>(f: (side: Side) => T) => Object.fromEntries(BATCH_SIDES.map((s) => [s, f(s)])) as Record<Side, T>
    return {
      keys: KEYS,
      opsPerSec: of((s) => result.median[s].opsPerSec),
      p50Us: of((s) => result.median[s].p50Us),
      spreadPercent: of((s) => spreadPercent(result.rounds[s])),
      roundTrips,
      targets: BATCH_TARGETS,
      anomalies,
    }
  } finally {
    await raw.del(...rawKeys).catch(() => {})
    await cache.close()
    await quit(raw, cw)
  }
}

/** The section's table and its verdicts against issue 15's targets. */
export function formatBatches(r: BatchesResult): string {
  const rows = batchRows(r)
  return [
    table([`batches of ${r.keys} cached keys`, 'batches/s', 'keys/s', 'p50 µs', 'spread'], rows, [
      'left',
      'right',
      'right',
      'right',
      'right',
    ]),
    `commands sent per getOrSetMany of the cached keys (the first batch of a client and the next): ${r.roundTrips}`,
    '',
    'targets (issue 15):',
    ...batchVerdicts(r).map(
      (v) => `  ${v.pass ? 'met    ' : 'NOT met'}  ${v.label}: ${v.measured} (target ${v.target})`,
    ),
    ...(r.anomalies.length > 0 ? ['', 'anomalies:', ...r.anomalies.map((a) => `  ${a}`)] : []),
  ].join('\n')
}
