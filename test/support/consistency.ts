/**
 * A consistency checker for a cache in front of a real database: a randomized workload (concurrent
 * readers, writers that update the database and then invalidate), the history it records, and a
 * verifier of the guarantee in DESIGN.md: once `delete`, `invalidateTags` or `invalidatePattern`
 * resolves, no read that starts afterwards returns a value older than the database held when the
 * invalidation began.
 *
 * Plain functions, no test framework, no backend of its own: the integration suite runs it on every
 * backend, and a unit run can reuse it over the memory adapter.
 * @module
 */

// ---------------------------------------------------------------------------------------------------
// Randomness: one seed makes the choices of every worker, loader and writer reproducible. (The
// interleaving still depends on timers and the network; what is checked does not.)

/** A PRNG returning floats in [0, 1). */
export type Rng = () => number

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** An integer in [0, n). */
const below = (rng: Rng, n: number) => Math.floor(rng() * n)

/** Derives an independent stream for one worker from the run's seed. */
const stream = (seed: number, index: number) => mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0)

/** A fresh seed, for runs that were not given one (print it so the run can be replayed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff)
}

const sleep = (ms: number) => (ms <= 0 ? Promise.resolve() : new Promise<void>((r) => setTimeout(r, ms)))

// ---------------------------------------------------------------------------------------------------
// What the checker talks to.

/** The database: PGlite or anything with the same `query`. */
export interface SqlDatabase {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>
}

/** The part of a cache client the workload uses. A cacheward `CacheClient` is one. */
export interface CheckedCache {
  getOrSet<T>(key: string, loader: () => Promise<T>, options: { tags: string[] }): Promise<T>
  get<T>(key: string): Promise<T | undefined>
  /** Batch reads, when the workload's `batchShare` asks for them. */
  getOrSetMany?<T>(
    keys: readonly string[],
    loadMany: (keys: string[]) => Promise<T[]>,
    options: { tags: string[] },
  ): Promise<(T | undefined)[]>
  delete(key: string): Promise<void>
  invalidateTags(tags: readonly string[]): Promise<void>
  invalidatePattern(pattern: string): Promise<number>
}

/** What a loader returns and the cache stores: the row's version, and which load produced it. */
export interface Item {
  id: number
  version: number
  /** Sequence number of the loader call that read it (see {@link LoadRecord}). */
  load: number
}

export const itemKey = (id: number) => `item:${id}`
export const groupOf = (id: number) => id % 4
export const itemTags = (id: number) => [`item:${id}`, `group:${groupOf(id)}`]

/**
 * Creates `items(id, version)` with rows `0 … ids-1` if they do not exist. Every write increments a
 * row's version, so versions of one id only grow, and "older" is well defined. Several runs may share
 * one database: each run only compares versions with those it saw committed.
 */
export async function prepareDatabase(db: SqlDatabase, ids: number): Promise<void> {
  await db.query('CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, version int NOT NULL)')
  await db.query(
    'INSERT INTO items (id, version) SELECT g, 0 FROM generate_series(0, $1::int - 1) AS g ON CONFLICT (id) DO NOTHING',
    [ids],
  )
}

// ---------------------------------------------------------------------------------------------------
// The history.

export type ReadKind = 'getOrSet' | 'get' | 'getOrSetMany'
export type InvalidationKind = 'delete' | 'tag' | 'group' | 'pattern'
export const INVALIDATION_KINDS: readonly InvalidationKind[] = ['delete', 'tag', 'group', 'pattern']

/** One read, as its caller saw it. Times are `performance.now()`. */
export interface ReadRecord {
  kind: ReadKind
  /** Index of the cache client (the "process") it went through. */
  client: number
  id: number
  /** What it returned (`undefined`: `get` found nothing). */
  value: Item | undefined
  start: number
  end: number
}

/** One loader call. */
export interface LoadRecord {
  load: number
  /** Client of the caller that started the load. */
  client: number
  id: number
  version: number
  start: number
  /** When the database answered. */
  queried: number
  end: number
}

/** One invalidation that resolved. */
export interface InvalidationRecord {
  kind: InvalidationKind
  /** The key, tag or pattern passed. */
  target: string
  client: number
  /** Ids it covers, ascending. */
  ids: number[]
  /**
   * For each id of `ids`, a version the database had committed before the call started: the least a
   * read that starts after the call resolved may return.
   */
  floors: number[]
  start: number
  end: number
}

/** A call that rejected (the workload counts it as an operation; the test decides whether it is allowed). */
export interface FailureRecord {
  operation: string
  id: number
  message: string
}

export interface History {
  seed: number
  /** Operations issued: reads plus writes (a write is an UPDATE and its invalidation). */
  ops: number
  reads: ReadRecord[]
  loads: LoadRecord[]
  invalidations: InvalidationRecord[]
  failures: FailureRecord[]
  durationMs: number
}

// ---------------------------------------------------------------------------------------------------
// The workload.

export interface WorkloadOptions {
  db: SqlDatabase
  /** Several clients on one backend and namespace, as separate processes would be. */
  caches: readonly CheckedCache[]
  /**
   * `random` (default): every operation goes through a random client, so calls within one client overlap
   * (several requests of one process). `pinned`: worker `i` always uses client `i % caches.length`; with
   * a client per worker, calls within one client never overlap (one request at a time per process).
   */
  clients?: 'random' | 'pinned'
  /** Operations to issue in total. */
  ops: number
  seed: number
  /** Rows `0 … ids-1` (at most 20, the patterns below assume two-digit ids). Default 20. */
  ids?: number
  /** Default 16. */
  readers?: number
  /** Default 4. */
  writers?: number
  /** Share of reads that are plain `get` (the rest are `getOrSet`). Default 0.2. */
  plainGetShare?: number
  /**
   * Share of reads that are batches: `getOrSetMany` over 2 or 3 ids of one group, each entry tagged with every id's
   * tag and the group's (extra tags only invalidate more), one read recorded per id. Default 0.
   */
  batchShare?: number
  /** Most delay (ms) a loader waits before and after its query, each with probability 1/2. Default 15. */
  loaderDelayMs?: number
  /** Most delay (ms) between a writer's commit and its invalidation. Default 3. */
  writerDelayMs?: number
  /** Share of operations that are writes (an UPDATE and its invalidation), whatever the backend's speed. Default 0.12. */
  writeShare?: number
  /** Most pause (ms) a writer takes between writes. Default 4. */
  writerPauseMs?: number
  /** Most pause (ms) a reader takes between reads (with probability 1/4). Default 2. */
  readerPauseMs?: number
  /** Ends the run early once it returns true (a run that must last as long as a fault does). */
  stop?: () => boolean
  /** Added to every load's sequence number, so runs in several processes sharing one backend never reuse one. */
  loadBase?: number
}

/**
 * Runs readers and writers concurrently until `ops` operations were issued, and records the history.
 *
 * Readers call `getOrSet(item:<id>)` with tags `item:<id>` and `group:<id % 4>` (or a plain `get`) on
 * a client chosen as `clients` says. The loader reads the row from the database, with random delays before
 * and after the query so loads overlap writes. Writers increment a row's version, then invalidate it by
 * key, by its own tag, by its group's tag or by a glob pattern, and record, before the call, the versions
 * committed for every id the invalidation covers.
 */
export async function runWorkload(options: WorkloadOptions): Promise<History> {
  const { db, caches, seed } = options
  const ids = options.ids ?? 20
  if (ids < 1 || ids > 20) throw new RangeError('ids must be between 1 and 20')
  if (caches.length === 0) throw new RangeError('at least one cache is needed')
  const readers = options.readers ?? 16
  const writers = options.writers ?? 4
  const plainGetShare = options.plainGetShare ?? 0.2
  const batchShare = options.batchShare ?? 0
  const loaderDelayMs = options.loaderDelayMs ?? 15
  const writerDelayMs = options.writerDelayMs ?? 3
  const writeShare = options.writeShare ?? 0.12
  const writerPauseMs = options.writerPauseMs ?? 4
  const readerPauseMs = options.readerPauseMs ?? 2
  const pick = (rng: Rng, worker: number) =>
    options.clients === 'pinned' ? worker % caches.length : below(rng, caches.length)

  const history: History = { seed, ops: 0, reads: [], loads: [], invalidations: [], failures: [], durationMs: 0 }
  let tickets = options.ops
  let writes = 0
  const take = () => {
    if (tickets <= 0 || options.stop?.()) return false
    tickets--
    history.ops++
    return true
  }
  /** A writer waits while writes are ahead of their share, so the mix does not depend on the backend's speed. */
  const takeWrite = async (rng: Rng) => {
    while (tickets > 0 && !options.stop?.() && writes + 1 > writeShare * (history.ops + 1))
      await sleep(1 + below(rng, writerPauseMs + 1))
    if (!take()) return false
    writes++
    return true
  }
  const loaderRng = stream(seed, 1_000)
  let loads = 0
  const started = performance.now()

  const loaderFor = (client: number, id: number) => async (): Promise<Item> => {
    const load = (options.loadBase ?? 0) + ++loads
    const start = performance.now()
    const before = loaderRng() < 0.5 ? below(loaderRng, loaderDelayMs + 1) : 0
    const after = loaderRng() < 0.5 ? below(loaderRng, loaderDelayMs + 1) : 0
    await sleep(before)
    const { rows } = await db.query<{ version: number }>('SELECT version FROM items WHERE id = $1', [id])
    const queried = performance.now()
    const version = rows[0]?.version
    if (version === undefined) throw new Error(`row ${id} is missing`)
    await sleep(after)
    history.loads.push({ load, client, id, version, start, queried, end: performance.now() })
    return { id, version, load }
  }

  /** `getOrSetMany` over `id` and one or two other ids of its group; one read record per id. */
  const batchRead = async (rng: Rng, client: number, cache: CheckedCache, id: number) => {
    const group = range(ids).filter((i) => groupOf(i) === groupOf(id) && i !== id)
    const batch = [id]
    const extra = 1 + below(rng, 2)
    for (let k = 0; k < extra && group.length > 0; k++)
      batch.push(group.splice(below(rng, group.length), 1)[0] as number)
    const tags = [...batch.map((i) => `item:${i}`), `group:${groupOf(id)}`]
    const idOf = new Map(batch.map((i) => [itemKey(i), i]))
    const start = performance.now()
    try {
      const values = await (cache.getOrSetMany as NonNullable<CheckedCache['getOrSetMany']>)<Item>(
        batch.map(itemKey),
        (keys) => Promise.all(keys.map((key) => loaderFor(client, idOf.get(key) as number)())),
        { tags },
      )
      const end = performance.now()
      batch.forEach((i, n) => {
        history.reads.push({ kind: 'getOrSetMany', client, id: i, value: values[n], start, end })
      })
    } catch (error) {
      history.failures.push({ operation: 'getOrSetMany', id, message: describe(error) })
    }
  }

  const reader = async (index: number) => {
    const rng = stream(seed, index)
    while (take()) {
      const client = pick(rng, index)
      const cache = caches[client]!
      const id = below(rng, ids)
      if (cache.getOrSetMany && rng() < batchShare) {
        await batchRead(rng, client, cache, id)
        if (rng() < 0.25) await sleep(below(rng, readerPauseMs + 1))
        continue
      }
      const kind: ReadKind = rng() < plainGetShare ? 'get' : 'getOrSet'
      const start = performance.now()
      try {
        const value =
          kind === 'get'
            ? await cache.get<Item>(itemKey(id))
            : await cache.getOrSet(itemKey(id), loaderFor(client, id), { tags: itemTags(id) })
        history.reads.push({ kind, client, id, value, start, end: performance.now() })
      } catch (error) {
        history.failures.push({ operation: kind, id, message: describe(error) })
      }
      if (rng() < 0.25) await sleep(below(rng, readerPauseMs + 1))
    }
  }

  const writer = async (index: number) => {
    const rng = stream(seed, 100 + index)
    while (await takeWrite(rng)) {
      const client = pick(rng, readers + index)
      const cache = caches[client]!
      const id = below(rng, ids)
      const plan = planInvalidation(rng, id, ids)
      try {
        await db.query('UPDATE items SET version = version + 1 WHERE id = $1 RETURNING version', [id])
        await sleep(below(rng, writerDelayMs + 1))
        // Versions committed by now, this writer's own included, bound what later reads may return.
        const { rows } = await db.query<{ id: number; version: number }>(
          'SELECT id, version FROM items WHERE id = ANY($1::int[]) ORDER BY id',
          [plan.ids],
        )
        const floors = plan.ids.map((covered) => rows.find((r) => r.id === covered)?.version ?? 0)
        const start = performance.now()
        if (plan.kind === 'delete') await cache.delete(plan.target)
        else if (plan.kind === 'pattern') await cache.invalidatePattern(plan.target)
        else await cache.invalidateTags([plan.target])
        const end = performance.now()
        history.invalidations.push({ ...plan, client, floors, start, end })
      } catch (error) {
        history.failures.push({ operation: plan.kind, id, message: describe(error) })
      }
      await sleep(below(rng, writerPauseMs + 1))
    }
  }

  await Promise.all([
    ...Array.from({ length: readers }, (_, i) => reader(i)),
    ...Array.from({ length: writers }, (_, i) => writer(i)),
  ])
  history.durationMs = performance.now() - started
  return history
}

/** Picks how a writer invalidates the row it just updated; every choice covers that row. */
function planInvalidation(rng: Rng, id: number, ids: number): Pick<InvalidationRecord, 'kind' | 'target' | 'ids'> {
  const kind = INVALIDATION_KINDS[below(rng, INVALIDATION_KINDS.length)]!
  if (kind === 'delete') return { kind, target: itemKey(id), ids: [id] }
  if (kind === 'tag') return { kind, target: `item:${id}`, ids: [id] }
  if (kind === 'group') {
    const group = groupOf(id)
    return { kind, target: `group:${group}`, ids: range(ids).filter((i) => groupOf(i) === group) }
  }
  const digit = id % 10
  const tens = id < 10 ? '' : String(Math.floor(id / 10))
  const lo = Math.max(0, digit - below(rng, 3))
  const hi = Math.min(9, lo + 2)
  const choices = [
    itemKey(id), // exact
    itemKey(id), // (exact twice as often as each wider pattern)
    `item:${tens}?`, // 0-9 or 10-19
    `item:*${digit}`, // same last digit
    `item:${tens}[${lo}-${hi}]`, // a range of three
  ]
  const target = choices[below(rng, choices.length)]!
  const matcher = globToRegExp(target)
  return { kind, target, ids: range(ids).filter((i) => matcher.test(itemKey(i))) }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/**
 * Redis glob (`*`, `?`, `[a-z]`, `[^a]`, `\x`) to a RegExp, written independently of the library so the
 * checker's idea of what a pattern covers does not share the code under test.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '^'
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === '*') out += '[\\s\\S]*'
    else if (c === '?') out += '[\\s\\S]'
    else if (c === '\\' && i + 1 < glob.length) out += escapeRegExp(glob[++i]!)
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2)
      if (close === -1) {
        out += '\\['
        continue
      }
      let body = glob.slice(i + 1, close)
      const negated = body.startsWith('^')
      if (negated) body = body.slice(1)
      out += `[${negated ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`
      i = close
    } else out += escapeRegExp(c)
  }
  return new RegExp(`${out}$`)
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

// ---------------------------------------------------------------------------------------------------
// The verifier.

export interface Violation {
  read: ReadRecord
  /** What went wrong, in one line. */
  reason: string
  /** The latest-ending invalidation that the read should have respected (for stale reads). */
  invalidation?: InvalidationRecord
  /** The version the read had to reach. */
  floor?: number
  /** The load that produced the returned value. */
  served?: LoadRecord
}

export interface Verdict {
  violations: Violation[]
  /** Reads that returned a value and started after at least one invalidation of their id resolved. */
  checkedReads: number
  /**
   * Loads overtaken by an invalidation of their id that began while they ran, with a newer version
   * committed: values the cache must not serve afterwards. Zero means the race was never exercised.
   */
  racedLoads: number
}

/**
 * Checks the history: every read that started after an invalidation covering its id resolved returned
 * at least the version committed before that invalidation started; every value read is one a loader of
 * that id produced.
 */
export function verify(history: History): Verdict {
  const loads = new Map(history.loads.map((l) => [l.load, l]))
  // Per id: invalidations ordered by when they resolved, with the running maximum of their floors.
  const byId = new Map<number, { end: number; best: number; inv: InvalidationRecord }[]>()
  for (const inv of [...history.invalidations].sort((a, b) => a.end - b.end)) {
    inv.ids.forEach((id, i) => {
      const floor = inv.floors[i] ?? 0
      const list = byId.get(id) ?? []
      byId.set(id, list)
      const last = list.at(-1)
      if (last && last.best >= floor) list.push({ end: inv.end, best: last.best, inv: last.inv })
      else list.push({ end: inv.end, best: floor, inv })
    })
  }

  const violations: Violation[] = []
  let checkedReads = 0
  for (const read of history.reads) {
    const value = read.value
    if (value === undefined) continue
    const served = loads.get(value.load)
    if (value.id !== read.id) {
      violations.push({ read, reason: `returned the value of item ${value.id}`, ...(served ? { served } : {}) })
      continue
    }
    if (!served || served.id !== value.id || served.version !== value.version) {
      violations.push({ read, reason: 'returned a value no loader produced' })
      continue
    }
    const list = byId.get(read.id)
    if (!list) continue
    // Last invalidation that resolved strictly before the read started.
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (list[mid]!.end < read.start) lo = mid + 1
      else hi = mid
    }
    const bound = list[lo - 1]
    if (!bound) continue
    checkedReads++
    if (value.version < bound.best) {
      violations.push({
        read,
        reason: `returned version ${value.version}, older than ${bound.best}`,
        invalidation: bound.inv,
        floor: bound.best,
        served,
      })
    }
  }

  // Per id: invalidations ordered by when they started.
  const started = new Map<number, { start: number; floor: number }[]>()
  for (const inv of history.invalidations) {
    inv.ids.forEach((id, i) => {
      const list = started.get(id) ?? []
      started.set(id, list)
      list.push({ start: inv.start, floor: inv.floors[i] ?? 0 })
    })
  }
  for (const list of started.values()) list.sort((a, b) => a.start - b.start)
  let racedLoads = 0
  for (const load of history.loads) {
    const list = started.get(load.id) ?? []
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (list[mid]!.start < load.start) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < list.length && list[i]!.start <= load.end; i++) {
      if (list[i]!.floor > load.version) {
        racedLoads++
        break
      }
    }
  }
  return { violations, checkedReads, racedLoads }
}

/** A few violations, readable: the read, the invalidation it had to respect, the load that produced its value. */
export function describeViolations(verdict: Verdict, history: History, limit = 5): string {
  const t0 = Math.min(history.reads[0]?.start ?? 0, history.invalidations[0]?.start ?? Number.POSITIVE_INFINITY)
  const at = (t: number) => `${(t - t0).toFixed(2)}ms`
  const lines = [`${verdict.violations.length} violation(s), seed ${history.seed}:`]
  for (const v of verdict.violations.slice(0, limit)) {
    const r = v.read
    lines.push(
      `- ${r.kind}(item:${r.id}) on client ${r.client}, ${at(r.start)}…${at(r.end)}: ${v.reason}`,
      ...(v.invalidation
        ? [
            `  after ${v.invalidation.kind} ${JSON.stringify(v.invalidation.target)} on client ${v.invalidation.client}, ` +
              `${at(v.invalidation.start)}…${at(v.invalidation.end)} (covers ${v.invalidation.ids.join(',')})`,
          ]
        : []),
      ...(v.served
        ? [
            `  value from load #${v.served.load} on client ${v.served.client}: started ${at(v.served.start)}, ` +
              `queried ${at(v.served.queried)}, returned ${at(v.served.end)}` +
              (v.served.client === r.client && v.served.end > r.start
                ? ' (still running when the read started: a shared in-process load)'
                : ''),
          ]
        : []),
    )
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------------
// A deliberately broken cache, for negative controls.

/**
 * Hand-written cache-aside over a Map, the way the race is usually introduced: a miss loads, then stores
 * whatever it loaded, with no check that an invalidation happened meanwhile. Tags and patterns work;
 * only the fence is missing. The checker must catch it.
 */
export function unfencedCache(): CheckedCache {
  const entries = new Map<string, { value: unknown; tags: readonly string[] }>()
  return {
    async getOrSet<T>(key: string, loader: () => Promise<T>, options: { tags: string[] }): Promise<T> {
      const hit = entries.get(key)
      if (hit) return hit.value as T
      const value = await loader()
      entries.set(key, { value, tags: options.tags })
      return value
    },
    async get<T>(key: string): Promise<T | undefined> {
      return entries.get(key)?.value as T | undefined
    },
    async delete(key: string) {
      entries.delete(key)
    },
    async invalidateTags(tags: readonly string[]) {
      for (const [key, entry] of entries) if (entry.tags.some((t) => tags.includes(t))) entries.delete(key)
    },
    async invalidatePattern(pattern: string) {
      const matcher = globToRegExp(pattern)
      let count = 0
      for (const key of [...entries.keys()]) {
        if (matcher.test(key)) {
          entries.delete(key)
          count++
        }
      }
      return count
    },
  }
}
