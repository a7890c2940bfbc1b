/**
 * Invalidation section of `npm run bench` (`--only invalidation`). See bench/README.md.
 *
 * (a) `invalidateTags` on a tag carried by 100,000 entries and on one carried by 10: time and Redis commands
 *     per call (from `INFO commandstats` after `CONFIG RESETSTAT`), which must not depend on the entries.
 * (b) `invalidatePattern` over 100,000 keys: keys/s, while 8 loops GET other keys over another connection;
 *     their latency during the scan shows how long Redis is blocked at a time.
 * (c) tagged vs untagged hits: sequential `getOrSet` hits with `{ tags: ['t1', 't2'] }` vs without tags,
 *     same value, interleaved slices as in run.ts.
 * @module
 */
import { type CacheClient, createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'
import {
  collectGarbage,
  formatInt,
  formatUs,
  measure,
  medianRun,
  type Op,
  percentile,
  Recorder,
  type Run,
  table,
} from './lib.js'
import type { InvalidationResult, PatternResult, PatternRun, ReadsResult, TagCase, TagsResult } from './results-file.js'
import { makeRoom } from './value.js'
import { HIT_KEYS, quit, ROUNDS, type SectionEnv } from './workload.js'

const SEED_WORKERS = 256
const TAG_TARGET_MS = 5
const PATTERN_TARGET_KEYS_PER_SEC = 100_000
const GET_P99_TARGET_MS = 5
const TAGGED_COST_TARGET = 1.1
const GET_LOOPS = 8
/** GET loops run alone this long before the scan starts: their baseline latency. */
const BASELINE_MS = 300

// ---- (a) invalidateTags -------------------------------------------------------------------------

// ---- (b) invalidatePattern ----------------------------------------------------------------------

// ---- (c) tagged vs untagged reads ---------------------------------------------------------------

// ---- helpers ------------------------------------------------------------------------------------

/** Calls per command since the last CONFIG RESETSTAT, leaving out the bench's own INFO/CONFIG. */
async function commandStats(admin: Redis): Promise<Record<string, number>> {
  const info = await admin.info('commandstats')
  const out: Record<string, number> = {}
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const name = match[1] as string
    if (name.startsWith('info') || name.startsWith('config')) continue
    out[name] = Number(match[2])
  }
  return out
}

interface Counted<T> {
  value: T
  /** Commands the client sent on `redis` (round trips: nothing here pipelines). */
  sent: Record<string, number>
  /** Commands Redis executed, all clients, including those scripts call (INFO commandstats). */
  executed: Record<string, number>
}

/**
 * Runs `work` counting commands twice: client side, by wrapping `redis.sendCommand` (every ioredis command goes
 * through it), and server side from INFO commandstats. Redis counts a script's own GET/SET there too, so only
 * the client-side count is the number of round trips.
 */
async function counted<T>(redis: Redis, admin: Redis, work: () => Promise<T>): Promise<Counted<T>> {
  const sent: Record<string, number> = {}
  const original = redis.sendCommand
  redis.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    const name = args[0].name
    sent[name] = (sent[name] ?? 0) + 1
    return original.apply(this, args)
  }
  await admin.config('RESETSTAT')
  try {
    const value = await work()
    return { value, sent, executed: await commandStats(admin) }
  } finally {
    redis.sendCommand = original
  }
}

/** SLOWLOG entries by command name: count, median and max duration, total (ms). */
async function slowCommands(admin: Redis): Promise<PatternRun['redisBusy']> {
  const entries = (await admin.slowlog('GET', '-1')) as [number, number, number, string[]][]
  const byName = new Map<string, number[]>()
  for (const [, , micros, args] of entries) {
    const name = String(args[0]).toLowerCase()
    if (name === 'slowlog' || name === 'config') continue
    const list = byName.get(name) ?? []
    list.push(micros / 1000)
    byName.set(name, list)
  }
  const out: PatternRun['redisBusy'] = {}
  for (const [name, list] of byName) {
    list.sort((a, b) => a - b)
    out[name] = {
      logged: list.length,
      p50Ms: percentile(list, 0.5),
      maxMs: list.at(-1) ?? 0,
      totalMs: list.reduce((a, b) => a + b, 0),
    }
  }
  return out
}

const sumOf = (stats: Record<string, number>) => Object.values(stats).reduce((a, b) => a + b, 0)
const median = (values: readonly number[]) => percentile(Float64Array.from(values).sort(), 0.5)

function newCache(redis: Redis, namespace: string): CacheClient {
  return createCacheClient({ adapter: ioredisAdapter(redis), namespace, ttl: '10m' })
}

/** Indices spread over [0, n): a sample for correctness checks. */
const sample = (n: number, count: number) =>
  Array.from({ length: Math.min(n, count) }, (_, i) => Math.floor((i * n) / count))

// ---- (a) ----------------------------------------------------------------------------------------

async function runTags(env: SectionEnv, conn: Redis, admin: Redis, anomalies: string[]): Promise<TagsResult> {
  const big = env.quick ? 10_000 : 100_000
  const small = 10
  const calls = env.quick ? 5 : 11
  await admin.flushdb()
  const cache = newCache(conn, `inv-${env.runId}-tags`)
  try {
    // Seeding is not timed. Small values: what invalidateTags costs cannot depend on them.
    const seeded = await measure((i) => cache.set(`big:${i}`, { n: i }, { tags: ['big'] }), big, SEED_WORKERS)
    await measure((i) => cache.set(`small:${i}`, { n: i }, { tags: ['small'] }), small, small)
    await measure((i) => cache.set(`other:${i}`, { n: i }, { tags: ['other'] }), small, small)
    env.log(
      `  invalidateTags: seeded ${formatInt(big)} + ${small} + ${small} tagged entries in ${seeded.elapsedMs.toFixed(0)} ms`,
    )
    const present = async (prefix: string, n: number) => {
      const values = await Promise.all(sample(n, 100).map((i) => cache.get(`${prefix}:${i}`)))
      return values.filter((v) => v !== undefined).length
    }
    const bigSample = Math.min(big, 100)
    if ((await present('big', big)) !== bigSample) anomalies.push('invalidateTags: seeded entries are not hits')
    // The script's first use on a server costs a NOSCRIPT reply and an EVAL: paid here, not in a timed call.
    await cache.invalidateTags(['warm-up'])

    const blank = () => ({ ms: [] as number[], commands: [] as number[], sent: {}, executed: {} })
    const cases = { big: { entries: big, ...blank() }, small: { entries: small, ...blank() } }
    for (let i = 0; i < calls * 2; i++) {
      // Alternating, so both see the same machine.
      const name = i % 2 === 0 ? 'big' : 'small'
      const c = cases[name]
      const {
        value: ms,
        sent,
        executed,
      } = await counted(conn, admin, async () => {
        const t0 = performance.now()
        await cache.invalidateTags([name])
        return performance.now() - t0
      })
      c.ms.push(ms)
      c.commands.push(sumOf(sent))
      if (c.commands.length === 1) Object.assign(c, { sent, executed })
      if (i < 2) {
        // Checked after the first call of each: every sampled entry of the tag is gone, other tags are not.
        const left = await present(name, c.entries)
        if (left !== 0) anomalies.push(`invalidateTags(['${name}']): ${left} sampled entries still hit`)
        if ((await present('other', small)) !== small) {
          anomalies.push(`invalidateTags(['${name}']) also invalidated entries of another tag`)
        }
      }
    }
    const finish = (c: (typeof cases)['big']): TagCase => ({
      ...c,
      medianMs: median(c.ms),
      maxMs: Math.max(...c.ms),
    })
    const result = { big: finish(cases.big), small: finish(cases.small) }
    const constant = [...result.big.commands, ...result.small.commands].every((n) => n === result.big.commands[0])
    return { ...result, pass: result.big.medianMs < TAG_TARGET_MS && constant }
  } finally {
    await cache.close()
  }
}

// ---- (b) ----------------------------------------------------------------------------------------

async function runPattern(
  env: SectionEnv,
  conn: Redis,
  admin: Redis,
  probe: Redis,
  anomalies: string[],
): Promise<PatternResult> {
  const keys = env.quick ? 10_000 : 100_000
  const runs = env.quick ? 1 : 3
  const value = makeRoom()
  const json = JSON.stringify(value)
  const otherKeys = Array.from({ length: 1_000 }, (_, i) => `inv-${env.runId}-other:${i}`)
  const results: PatternRun[] = []
  for (let run = 0; run < runs; run++) {
    await admin.flushdb()
    const cache = newCache(conn, `inv-${env.runId}-pattern`)
    try {
      // Not timed: the ~1 KB value of the other cases, under the prefix, plus keys the GET loops read.
      const pipeline = probe.pipeline()
      for (const key of otherKeys) pipeline.set(key, json)
      await pipeline.exec()
      // Loads the invalidation script into Redis (NOSCRIPT + EVAL on first use) outside the timing; the
      // tombstone it leaves is removed so the database holds exactly the seeded keys.
      await cache.set('warm-up', value)
      await cache.invalidatePattern('warm-up')
      await admin.del(`inv-${env.runId}-pattern:warm-up`)
      await measure((i) => cache.set(`bulk:${i}`, value), keys, SEED_WORKERS)
      const dbsizeBefore = await admin.dbsize()
      if (dbsizeBefore !== keys + otherKeys.length) {
        anomalies.push(
          `invalidatePattern run ${run + 1}: seeded ${dbsizeBefore} keys, expected ${keys + otherKeys.length}`,
        )
      }
      collectGarbage()

      // GET loops on other keys through their own connection, from before the scan until after it.
      const starts: number[] = []
      const latencies: number[] = []
      let stop = false
      let missing = 0
      const loop = async (w: number) => {
        for (let i = w; !stop; i += GET_LOOPS) {
          const t0 = performance.now()
          const text = await probe.get(otherKeys[i % otherKeys.length] as string)
          latencies.push(performance.now() - t0)
          starts.push(t0)
          if (text === null) missing++
        }
      }
      // Redis logs every command slower than 100 µs: the scan's pages and scripts, rarely a GET. That is how long
      // each of them kept Redis from serving anyone else.
      await admin.config('SET', 'slowlog-log-slower-than', '100')
      await admin.config('SET', 'slowlog-max-len', '10000')
      await admin.slowlog('RESET')
      const loops = Array.from({ length: GET_LOOPS }, (_, w) => loop(w))
      const baselineFrom = performance.now()
      await new Promise((resolve) => setTimeout(resolve, BASELINE_MS))
      let t0 = 0
      let t1 = 0
      // Counting the cache connection's commands costs a map update per command (a few hundred here).
      const { value: invalidated, sent: commands } = await counted(conn, admin, async () => {
        t0 = performance.now()
        const n = await cache.invalidatePattern('bulk:*')
        t1 = performance.now()
        return n
      })
      stop = true
      await Promise.all(loops)
      const busy = await slowCommands(admin)
      await admin.config('SET', 'slowlog-log-slower-than', '10000')

      const during: number[] = []
      const baseline: number[] = []
      starts.forEach((s, i) => {
        const latency = latencies[i] as number
        if (s >= t0 && s < t1) during.push(latency)
        else if (s >= baselineFrom && s < t0) baseline.push(latency)
      })
      during.sort((a, b) => a - b)
      baseline.sort((a, b) => a - b)
      const ms = t1 - t0

      // Checked outside the timing: every entry counted, sampled entries gone, other keys untouched.
      const dbsizeAfter = await admin.dbsize()
      if (invalidated !== keys)
        anomalies.push(`invalidatePattern run ${run + 1}: resolved ${invalidated}, expected ${keys}`)
      const left = await Promise.all(sample(keys, 200).map((i) => cache.get(`bulk:${i}`)))
      const hits = left.filter((v) => v !== undefined).length
      if (hits > 0)
        anomalies.push(`invalidatePattern run ${run + 1}: ${hits} of ${left.length} sampled entries still hit`)
      const lengths = await Promise.all(
        sample(keys, 200).map((i) => admin.strlen(`inv-${env.runId}-pattern:bulk:${i}`)),
      )
      const bodies = lengths.filter((n) => n >= json.length).length
      if (bodies > 0) anomalies.push(`invalidatePattern run ${run + 1}: ${bodies} sampled keys still hold their value`)
      if (missing > 0) anomalies.push(`invalidatePattern run ${run + 1}: ${missing} GETs of other keys found nothing`)
      if (during.length === 0) anomalies.push(`invalidatePattern run ${run + 1}: no GET completed during the scan`)

      results.push({
        keys,
        invalidated,
        ms,
        keysPerSec: (invalidated / ms) * 1000,
        commands,
        getsDuring: during.length,
        getP50Ms: percentile(during, 0.5),
        getP99Ms: percentile(during, 0.99),
        getMaxMs: during.at(-1) ?? Number.NaN,
        baselineGets: baseline.length,
        baselineP50Ms: percentile(baseline, 0.5),
        baselineP99Ms: percentile(baseline, 0.99),
        dbsizeBefore,
        dbsizeAfter,
        redisBusy: busy,
      })
      const r = results.at(-1) as PatternRun
      env.log(
        `  invalidatePattern: run ${run + 1}/${runs} ${formatInt(r.keysPerSec)} keys/s, ` +
          `GET p99 ${r.getP99Ms.toFixed(2)} ms during (${r.baselineP99Ms.toFixed(2)} ms before)`,
      )
    } finally {
      await cache.close()
    }
  }
  const sorted = [...results].sort((a, b) => a.keysPerSec - b.keysPerSec)
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as PatternRun
  return {
    median: mid,
    runs: results,
    pass: mid.keysPerSec >= PATTERN_TARGET_KEYS_PER_SEC && mid.getP99Ms < GET_P99_TARGET_MS,
  }
}

// ---- (c) ----------------------------------------------------------------------------------------

async function runReads(env: SectionEnv, conn: Redis, admin: Redis, anomalies: string[]): Promise<ReadsResult> {
  const scale = env.quick ? 10 : 1
  const hitKeys = HIT_KEYS
  const ops = 10_000 / scale
  const slices = 10
  const rounds = ROUNDS
  const warmup = 2_000 / scale
  const value = makeRoom()
  await admin.flushdb()
  const namespace = `inv-${env.runId}-reads`
  const sides = {
    untagged: { cache: newCache(conn, namespace), prefix: 'u:', options: {} },
    tagged: { cache: newCache(conn, namespace), prefix: 't:', options: { tags: ['t1', 't2'] } },
  }
  type Name = keyof typeof sides
  const names: readonly Name[] = ['untagged', 'tagged']
  const loader = () => value
  const op = (name: Name): Op => {
    const { cache, prefix, options } = sides[name]
    const keys = Array.from({ length: hitKeys }, (_, i) => prefix + i)
    return (i) => cache.getOrSet(keys[i % hitKeys] as string, loader, options)
  }
  const check = (name: Name, count: number, where: string) => {
    const m = sides[name].cache.metrics()
    sides[name].cache.resetMetrics()
    if (m.hits !== count || m.errors !== 0) {
      anomalies.push(`reads ${name} ${where}: ${m.hits} hits of ${count}, ${m.errors} backend errors`)
    }
  }
  try {
    for (const name of names) {
      await measure(op(name), hitKeys, 64)
      const m = sides[name].cache.metrics()
      if (m.loads !== hitKeys) anomalies.push(`reads ${name}: populating made ${m.loads} loads of ${hitKeys}`)
      sides[name].cache.resetMetrics()
    }
    const ops0 = { untagged: op('untagged'), tagged: op('tagged') }
    for (const name of names) {
      await measure(ops0[name], warmup, 1)
      check(name, warmup, 'warm-up')
    }
    // Commands per hit, outside the timing: what each kind of hit asks of Redis.
    const perOp = (stats: Record<string, number>) =>
      Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v / 1_000]))
    const commands: Record<Name, { sent: Record<string, number>; executed: Record<string, number> }> = {
      untagged: { sent: {}, executed: {} },
      tagged: { sent: {}, executed: {} },
    }
    for (const name of names) {
      const { sent, executed } = await counted(conn, admin, () => measure(ops0[name], 1_000, 1))
      check(name, 1_000, 'command count')
      commands[name] = { sent: perOp(sent), executed: perOp(executed) }
    }

    const runs: Record<Name, Run[]> = { untagged: [], tagged: [] }
    const perSlice = Math.ceil(ops / slices)
    for (let round = 0; round < rounds; round++) {
      const recorders = { untagged: new Recorder(ops), tagged: new Recorder(ops) }
      for (let s = 0; s < slices; s++) {
        const from = s * perSlice
        const to = Math.min(ops, from + perSlice)
        for (let k = 0; k < names.length; k++) {
          const name = names[(k + round + s) % names.length] as Name
          collectGarbage()
          await recorders[name].run(ops0[name], from, to, 1)
          check(name, to - from, `round ${round + 1}`)
        }
      }
      for (const name of names) runs[name].push(recorders[name].result())
      env.log(
        `  tagged reads: round ${round + 1}/${rounds} ` +
          names.map((n) => `${n} ${formatInt(runs[n].at(-1)?.opsPerSec ?? 0)}/s`).join(', '),
      )
    }
    const untagged = { median: medianRun(runs.untagged), rounds: runs.untagged, ...commands.untagged }
    const tagged = { median: medianRun(runs.tagged), rounds: runs.tagged, ...commands.tagged }
    const costRatio = untagged.median.opsPerSec / tagged.median.opsPerSec
    return { ops, untagged, tagged, costRatio, pass: costRatio <= TAGGED_COST_TARGET }
  } finally {
    await Promise.all(names.map((n) => sides[n].cache.close()))
  }
}

// ---- entry --------------------------------------------------------------------------------------

export async function runInvalidation(env: SectionEnv): Promise<InvalidationResult> {
  // The cache's connection, the GET loops' connection, and one for setup, checks and INFO.
  const conn = new Redis(env.url)
  const probe = new Redis(env.url)
  const admin = new Redis(env.url)
  const anomalies: string[] = []
  try {
    await Promise.all([conn.ping(), probe.ping(), admin.ping()])
    const tags = await runTags(env, conn, admin, anomalies)
    const pattern = await runPattern(env, conn, admin, probe, anomalies)
    const reads = await runReads(env, conn, admin, anomalies)
    await admin.flushdb()
    const targets = {
      tagMedianMs: TAG_TARGET_MS,
      patternKeysPerSec: PATTERN_TARGET_KEYS_PER_SEC,
      getP99Ms: GET_P99_TARGET_MS,
      taggedCostRatio: TAGGED_COST_TARGET,
    }
    return { tags, pattern, reads, targets, anomalies }
  } finally {
    await quit(conn, probe, admin)
  }
}

// ---- reporting ----------------------------------------------------------------------------------

const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL')
const msText = (n: number) => (n < 1 ? n.toFixed(3) : n.toFixed(2))
const commandList = (stats: Record<string, number>, digits = 0) =>
  Object.entries(stats)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${n.toFixed(digits)} ${name}`)
    .join(' + ') || 'none'

export function formatInvalidation(result: InvalidationResult): string {
  const { tags, pattern, reads } = result
  const tagRows = (['big', 'small'] as const).map((name) => {
    const c = tags[name]
    const counts = [...new Set(c.commands)].join('/')
    return [
      `invalidateTags, tag on ${formatInt(c.entries)} entries`,
      String(c.ms.length),
      msText(c.medianMs),
      msText(c.maxMs),
      counts,
      commandList(c.sent),
      commandList(c.executed),
      `< ${TAG_TARGET_MS} ms, constant commands`,
      verdict(tags.pass),
    ]
  })
  const m = pattern.median
  const patternRows = pattern.runs.map((r, i) => [
    `run ${i + 1}${r === m ? ' (median)' : ''}`,
    formatInt(r.invalidated),
    r.ms.toFixed(0),
    formatInt(r.keysPerSec),
    commandList(r.commands),
    formatInt(r.getsDuring),
    msText(r.getP50Ms),
    msText(r.getP99Ms),
    msText(r.getMaxMs),
    `${msText(r.baselineP50Ms)} / ${msText(r.baselineP99Ms)}`,
    `${formatInt(r.dbsizeBefore)} -> ${formatInt(r.dbsizeAfter)}`,
  ])
  const busyRows = pattern.runs.flatMap((r, i) =>
    Object.entries(r.redisBusy)
      .filter(([name]) => name !== 'get')
      .sort((a, b) => b[1].totalMs - a[1].totalMs)
      .map(([name, b]) => [
        `run ${i + 1}`,
        name,
        formatInt(b.logged),
        msText(b.p50Ms),
        msText(b.maxMs),
        b.totalMs.toFixed(0),
        `${((b.totalMs / r.ms) * 100).toFixed(0)}%`,
      ]),
  )
  const busyHead = ['run', 'command', 'calls > 100 µs', 'p50 ms', 'max ms', 'total ms', 'of scan time']
  const readRows = (['untagged', 'tagged'] as const).map((name) => {
    const side = reads[name]
    return [
      name === 'tagged' ? "getOrSet hit, tags ['t1','t2']" : 'getOrSet hit, no tags',
      formatInt(side.median.opsPerSec),
      formatUs(side.median.p50Us),
      formatUs(side.median.p99Us),
      commandList(side.sent, 2),
      commandList(side.executed, 2),
      side.rounds.map((r) => formatInt(r.opsPerSec)).join(' / '),
    ]
  })
  const roundRatios = reads.untagged.rounds
    .map((u, i) => (u.opsPerSec / (reads.tagged.rounds[i]?.opsPerSec ?? Number.NaN)).toFixed(2))
    .join(' / ')
  return [
    `Invalidation (a): invalidateTags, median of ${tags.big.ms.length} calls per tag, alternating. round trips = commands`,
    'the client sent per call; executed in Redis = INFO commandstats after CONFIG RESETSTAT (script calls included).',
    '',
    table(
      ['case', 'calls', 'median ms', 'max ms', 'round trips', 'sent', 'executed in Redis', 'target', 'verdict'],
      tagRows,
      ['left', 'right', 'right', 'right', 'right', 'left', 'left', 'left', 'left'],
    ),
    '',
    `Invalidation (b): invalidatePattern('bulk:*') over ${formatInt(m.keys)} entries (~1 KB), while ${GET_LOOPS} loops GET`,
    `other keys on another connection; GET latency of calls started during the scan, and in the ${BASELINE_MS} ms before.`,
    `targets: >= ${formatInt(PATTERN_TARGET_KEYS_PER_SEC)} keys/s and GET p99 < ${GET_P99_TARGET_MS} ms (median run by keys/s): ` +
      `${verdict(pattern.pass)}`,
    '',
    table(
      [
        'run',
        'keys',
        'ms',
        'keys/s',
        'commands sent',
        'GETs during',
        'GET p50 ms',
        'GET p99 ms',
        'GET max ms',
        'before p50/p99',
        'DBSIZE before -> after',
      ],
      patternRows,
      ['left', 'right', 'right', 'right', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
    '',
    'Keys stay as tombstones (no value, 60 s TTL), so DBSIZE does not drop; the checks read sampled keys instead.',
    'Time inside Redis per command of the scan (SLOWLOG, calls over 100 µs): what blocks every other client.',
    '',
    table(busyHead, busyRows, ['left', 'left', 'right', 'right', 'right', 'right', 'right']),
    '',
    `Invalidation (c): sequential getOrSet hits, tagged vs untagged, ~1 KB value, ${formatInt(reads.ops)} ops per round in`,
    `interleaved slices, median round. cost ratio = time per tagged hit / time per untagged hit = ${reads.costRatio.toFixed(2)}x ` +
      `(target <= ${TAGGED_COST_TARGET.toFixed(2)}x): ${verdict(reads.pass)}`,
    '',
    table(
      ['read', 'ops/s', 'p50 µs', 'p99 µs', 'sent per hit', 'executed in Redis per hit', 'ops/s per round'],
      readRows,
      ['left', 'right', 'right', 'right', 'left', 'left', 'right'],
    ),
    `cost ratio per round: ${roundRatios}`,
  ].join('\n')
}
