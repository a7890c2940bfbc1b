/**
 * The cache-aside algorithm: read (or take the lock) → classify → wait or load → validate → fenced write.
 *
 * Round trips: a hit is one read; a miss is one read that also takes the lock, then one write that
 * is fenced on the generation read and releases the lock. Concurrent callers of one key in one
 * process share all of it (single-flight). Correctness never rests on the lock: the fence does.
 * @module
 */
import type { CacheAdapter, ReadReply, Slot, TagRead } from './adapters/adapter.js'
import type { CircuitBreaker } from './circuit.js'
import type { Clock } from './clock.js'
import { parseDuration } from './duration.js'
import { decodeEntry, type EntryBody, encodeEntry } from './entry.js'
import {
  CacheCircuitOpenError,
  CacheLoadTimeoutError,
  CacheOptionsError,
  CacheSchemaError,
  CacheTimeoutError,
  CacheValueError,
} from './errors.js'
import { backendError, type RefreshReason } from './events.js'
import type { SingleFlight } from './flight.js'
import { classify, entryWrite, type Freshness } from './freshness.js'
import { isTagList } from './keys.js'
import type { Lifetime } from './lifetime.js'
import type { Policy, ResolvedCall } from './options.js'
import { requestBoundIo } from './runtime.js'
import type { Serializer } from './serializer.js'
import { validate } from './standard-schema.js'
import { now, type Telemetry } from './telemetry.js'

/**
 * Tombstones, and keys a lock was taken on, live at least this long. A load that runs longer than
 * this does not write its value back, since a tombstone left during the load might have expired.
 */
export const FENCE_WINDOW_MS = 60_000

/**
 * Tag records live this long after their last write. One that expires makes the entries carrying
 * the tag untrusted until the next write recreates it (see TagReply): at most one reload each.
 */
export const TAG_TTL_MS = 7 * 86_400_000

/** Most keys remembered for `errorBackoff` at once; the oldest are forgotten first. */
const MAX_BACKOFF_KEYS = 10_000

/** What a loader receives. */
export interface LoaderContext<T = unknown> {
  /** The logical key being loaded. */
  readonly key: string
  /** Aborted when the load passes `hardTimeout` or the client is closed. */
  readonly signal: AbortSignal
  /** The stale value, when one exists (a refresh, or a load that may fall back to it). */
  readonly stale: T | undefined
  /** Overrides `ttl` for this value (e.g. from an HTTP `max-age`). */
  setTtl(ttl: number | string): void
  /** Replaces the tags this value is stored with. */
  setTags(tags: readonly string[]): void
  /** Returns the value to callers without storing it. */
  skipCache(): void
}

/**
 * A loader: returns the value (or a promise of it) for a key. `S` types `ctx.stale`: any type the value fits (the stale
 * value is one a loader returned before), `T` itself by default.
 */
export type Loader<T extends S, S = T> = (ctx: LoaderContext<S>) => T | Promise<T>

/** State shared by a client and its namespaces. */
export interface Core {
  readonly adapter: CacheAdapter
  readonly serializer: Serializer
  readonly clock: Clock
  readonly telemetry: Telemetry
  readonly flight: SingleFlight<Outcome>
  readonly timeout: number
  readonly lockTtl: number
  readonly lockWait: number
  readonly background: Set<Promise<unknown>>
  readonly lifetime: Lifetime
  readonly circuit: CircuitBreaker | undefined
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined
  /** Keys whose loader failed recently and were answered stale: until when not to call it again. */
  readonly backoff: Map<string, number>
  /** Keys with an early refresh under way in this process. */
  readonly refreshing: Set<string>
  /** Stops each load under way (aborts its signal, ends its wait for the loader); called by close(). */
  readonly loads: Set<(reason: unknown) => void>
  /** Keys this process recently found fresh or wrote: read first with the adapter's `peek`. */
  readonly present: Map<string, true>
  /** Backend clock minus this process's clock (ms), learned from every script read; undefined until the first. */
  clockOffset: number | undefined
}

/** Most keys remembered as present; the oldest are forgotten first. */
const MAX_PRESENT_KEYS = 10_000

/** Remembers that `full` holds a fresh entry, so its next read can be a plain peek. */
export function markPresent(core: Core, full: string): void {
  if (!core.adapter.peek) return
  core.present.delete(full)
  core.present.set(full, true)
  if (core.present.size > MAX_PRESENT_KEYS) {
    const oldest = core.present.keys().next()
    if (!oldest.done) core.present.delete(oldest.value)
  }
}

/**
 * The cheap hit: a plain GET for a key recently found fresh, judged against the backend clock as
 * learned from script replies (off by less than one round trip). Anything that is not clearly a
 * fresh, valid entry returns undefined and the caller takes the full read-or-lock path.
 */
async function peekHit(c: Call, offset: number): Promise<Outcome | undefined> {
  const { adapter } = c.core
  const { tags } = c.call
  let slot: Slot | null | 'garbage'
  let known: Map<string, number> | undefined
  if (tags.length === 0) {
    slot = await bounded(c.core, 'read', () =>
      (adapter.peek as NonNullable<CacheAdapter['peek']>).call(adapter, c.full),
    )
  } else {
    const keys = tags.map((t) => c.scope.tagPrefix + t)
    const peekTagged = adapter.peekTagged as NonNullable<CacheAdapter['peekTagged']>
    const reply = await bounded(c.core, 'read', () => peekTagged.call(adapter, c.full, keys))
    // A missing tag record is never trusted (nor created here): the full read creates it.
    if (reply.stamps.some((stamp) => stamp === null)) return undefined
    slot = reply.slot
    known = new Map(tags.map((tag, i) => [tag, reply.stamps[i] as number]))
  }
  if (slot === null || slot === 'garbage' || slot.body === '' || Date.now() + offset >= slot.freshUntil)
    return undefined
  const checked = usableEntry(c, slot, known)
  const found = checked instanceof Promise ? await checked : checked
  return found && found !== 'invalidated' ? { value: found.value, kind: 'hit' } : undefined
}

/** Where a call runs: its namespace prefix and merged options. */
export interface Scope {
  readonly prefix: string
  /** Prefix of tag records, shared by a root namespace and its children; one hash tag, so one cluster slot. */
  readonly tagPrefix: string
  readonly namespace: string | undefined
  readonly policy: Policy
}

/** How one flight ended; every caller sharing it counts the same kind (a joined load is a miss). */
export interface Outcome {
  value: unknown
  kind: 'hit' | 'stale' | 'miss'
}

export interface Call {
  core: Core
  scope: Scope
  key: string
  full: string
  call: ResolvedCall
  /** Closes the caller's flight to late joiners; called as its load starts. */
  seal?: () => void
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
const randomPool = new Uint8Array(4096)
let randomOffset = randomPool.length

/**
 * Random token with 128 bits of entropy (lock tokens and generations), from Web Crypto (edge-safe).
 * Bytes are drawn 4 KB at a time: one getRandomValues call per token cost more than the rest of a hit.
 */
export function randomToken(): string {
  if (randomOffset + 16 > randomPool.length) {
    crypto.getRandomValues(randomPool)
    randomOffset = 0
  }
  let out = ''
  for (let i = randomOffset; i < randomOffset + 16; i++) out += HEX[randomPool[i] as number]
  randomOffset += 16
  return out
}

const BUCKET_MS = 10

/**
 * Timeouts of concurrent backend operations share one timer per 10 ms bucket: a timer per operation
 * cost a measurable share of a cache hit. A deadline fires up to one bucket late.
 */
const deadlines = new Map<number, { fire: Set<() => void>; timer: ReturnType<typeof setTimeout> }>()

function watchDeadline(ms: number, fire: () => void): () => void {
  if (requestBoundIo) {
    // Workers: a timer dies with the request that armed it, so a request never waits on another request's timer.
    const timer = setTimeout(fire, ms)
    return () => clearTimeout(timer)
  }
  const at = Math.ceil((Date.now() + ms) / BUCKET_MS) * BUCKET_MS
  let bucket = deadlines.get(at)
  if (!bucket) {
    const created = {
      fire: new Set<() => void>(),
      timer: setTimeout(() => {
        deadlines.delete(at)
        for (const f of created.fire) f()
      }, at - Date.now()),
    }
    // Never the reason a process stays alive: a pending backend call holds it through its own socket.
    ;(created.timer as { unref?: () => void }).unref?.()
    deadlines.set(at, created)
    bucket = created
  }
  const current = bucket
  current.fire.add(fire)
  return () => {
    current.fire.delete(fire)
    if (current.fire.size === 0 && deadlines.get(at) === current) {
      clearTimeout(current.timer)
      deadlines.delete(at)
    }
  }
}

/**
 * Every backend operation goes through here: the circuit breaker may skip it, and the client's
 * `timeout` bounds it. `work` is a thunk so a skipped operation never reaches the backend.
 */
export function bounded<T>(core: Core, operation: string, work: () => Promise<T>): Promise<T> {
  const circuit = core.circuit
  if (circuit && !circuit.allow()) return Promise.reject(new CacheCircuitOpenError(core.adapter.name, operation))
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const cancel = watchDeadline(core.timeout, () => {
      if (settled) return
      settled = true
      circuit?.failure()
      reject(new CacheTimeoutError(`${core.adapter.name} ${operation}`, core.timeout))
    })
    const done = (error: unknown, value?: T) => {
      if (settled) return
      settled = true
      cancel()
      if (error === undefined) {
        circuit?.success()
        resolve(value as T)
      } else {
        circuit?.failure()
        reject(error)
      }
    }
    let running: Promise<T>
    try {
      running = work()
    } catch (error) {
      done(error ?? new Error('adapter threw'))
      return
    }
    running.then(
      (value) => done(undefined, value),
      (error: unknown) => done(error ?? new Error('adapter rejected')),
    )
  })
}

/** Counts a backend failure and emits it as a redacted `error` event (not for calls the open circuit skipped). */
export function reportBackendError(
  core: Core,
  scope: Scope,
  operation: string,
  key: string | undefined,
  cause: unknown,
) {
  const error = backendError(core.adapter.name, operation, cause)
  if (cause instanceof CacheCircuitOpenError) return error
  core.telemetry.backendFailed(operation, key, scope.namespace, error)
  return error
}

/** Runs background work the caller does not await: tracked for close(), handed to `waitUntil`. */
export function track(core: Core, task: Promise<unknown>): void {
  core.background.add(task)
  void task.finally(() => core.background.delete(task))
  core.waitUntil?.(task)
}

/** Counts one served call (started at `startedAt`, from {@link now}) and emits its event. */
export function countServed(
  c: Pick<Call, 'core' | 'scope' | 'key' | 'call'>,
  kind: Outcome['kind'],
  startedAt: number,
) {
  c.core.telemetry.served(c.key, c.scope.namespace, c.call.category, kind, startedAt)
}

/** What telemetry labels a call with. */
function siteOf(c: Pick<Call, 'scope' | 'key' | 'call'>) {
  return { key: c.key, namespace: c.scope.namespace, category: c.call.category }
}

/** Invalidation stamps by tag; `null` when they could not be read (then tagged entries are not trusted). */
export type TagStamps = Map<string, number> | null

/** Reads the stamps of `tags` in one round trip (creating missing records); a failure is reported and yields `null`. */
export async function readTagStamps(c: Call, tags: readonly string[]): Promise<TagStamps> {
  try {
    const keys = tags.map((tag) => c.scope.tagPrefix + tag)
    const reply = await bounded(c.core, 'readTags', () => c.core.adapter.readTags(keys, TAG_TTL_MS))
    return new Map(tags.map((tag, i) => [tag, reply.stamps[i] ?? Number.POSITIVE_INFINITY]))
  } catch (error) {
    reportBackendError(c.core, c.scope, 'readTags', c.key, error)
    return null
  }
}

/**
 * Decodes and validates the entry of a slot. `undefined` when there is none or it is unusable
 * (corrupt: reported; failing the schema), `'invalidated'` when a tag it carries was invalidated
 * after its load began. `known` holds stamps already read for the call's own tags.
 */
export function usableEntry(c: Call, slot: Slot | null, known?: TagStamps): Usable | Promise<Usable> {
  if (!slot || slot.body === '') return undefined
  const entry = decodeEntry(slot.body, c.core.serializer)
  if (!entry) {
    reportBackendError(c.core, c.scope, 'decode', c.key, new Error('corrupted or foreign entry; treated as a miss'))
    return undefined
  }
  if (entry.tags.length === 0) return c.call.schema ? checkSchema(c, entry) : entry
  if (known === null) return 'invalidated'
  const missing = known ? entry.tags.filter((t) => !known.has(t)) : entry.tags
  if (missing.length === 0) return tagCheck(c, entry, slot, known, undefined)
  return readTagStamps(c, missing).then((fetched) =>
    fetched === null ? 'invalidated' : tagCheck(c, entry, slot, known, fetched),
  )
}

type Usable = Required<EntryBody> | 'invalidated' | undefined

function tagCheck(
  c: Call,
  entry: Required<EntryBody>,
  slot: Slot,
  known: Map<string, number> | undefined,
  fetched: Map<string, number> | undefined,
): Usable | Promise<Usable> {
  // Entries written by set() count from the tag read just before their write.
  const began = entry.startedAt || slot.createdAt
  for (const tag of entry.tags) {
    const stamp = known?.get(tag) ?? fetched?.get(tag) ?? Number.POSITIVE_INFINITY
    if (stamp >= began) return 'invalidated'
  }
  return c.call.schema ? checkSchema(c, entry) : entry
}

async function checkSchema(c: Call, entry: Required<EntryBody>): Promise<Usable> {
  const checked = await validate(c.call.schema as NonNullable<ResolvedCall['schema']>, entry.value)
  return checked.ok ? { ...entry, value: checked.value } : undefined
}

/** The call's tag records, to read with the entry. */
function tagReadOf(c: Call): TagRead | undefined {
  const { tags } = c.call
  return tags.length > 0 ? { keys: tags.map((t) => c.scope.tagPrefix + t), ttl: TAG_TTL_MS } : undefined
}

/** Stamps by tag from a reply that read them beside the entry. */
function stampsOf(tags: readonly string[], reply: ReadReply): Map<string, number> | undefined {
  const stamps = reply.tagStamps
  if (!stamps) return undefined
  return new Map(tags.map((tag, i) => [tag, stamps[i] ?? Number.POSITIVE_INFINITY]))
}

const lockRequest = (core: Core, token: string, force = false) => ({
  token,
  ttl: core.lockTtl,
  keep: FENCE_WINDOW_MS,
  ...(force ? { force } : {}),
})

/** `getOrSet`: resolves one flight for `full` (the caller counts and returns its outcome). */
export async function resolveFlight<T>(c: Call, loader: Loader<T>): Promise<Outcome> {
  const { core } = c
  const { policy } = c.call
  if (policy.ttl === 0) return loadOnly(c, loader)

  const offset = core.clockOffset
  const canPeek = c.call.tags.length === 0 ? core.adapter.peek : core.adapter.peekTagged
  if (canPeek && offset !== undefined && policy.earlyRefresh === 0 && core.present.has(c.full)) {
    try {
      const hit = await peekHit(c, offset)
      if (hit) return hit
    } catch (error) {
      // Reads degrade: answered by the loader, without a second read that would wait as long again.
      reportBackendError(core, c.scope, 'read', c.key, error)
      core.present.delete(c.full)
      return loadOnly(c, loader)
    }
    core.present.delete(c.full)
  }

  const token = randomToken()
  // The call's own tags are read with the entry (one script where the backend allows it), so a tagged
  // hit costs no extra round trip and a record created now is stamped before the load's start.
  const tagRead =
    c.call.tags.length > 0 ? { keys: c.call.tags.map((t) => c.scope.tagPrefix + t), ttl: TAG_TTL_MS } : undefined
  let reply: ReadReply
  let found: Usable
  let known: Map<string, number> | undefined
  try {
    reply = await bounded(core, 'read', () => core.adapter.read(c.full, lockRequest(core, token), tagRead))
    core.clockOffset = Math.floor(reply.now) - Date.now()
    if (reply.garbage)
      reportBackendError(core, c.scope, 'read', c.key, new Error('foreign data at key; treated as a miss'))
    known = stampsOf(c.call.tags, reply)
    const checked = usableEntry(c, reply.slot, known)
    found = checked instanceof Promise ? await checked : checked
    if (found === 'invalidated' && reply.lock === 'none') {
      // The backend saw a fresh slot and took no lock; a tag made it stale, so take the lock now.
      reply = await bounded(core, 'read', () => core.adapter.read(c.full, lockRequest(core, token, true)))
      const rechecked = usableEntry(c, reply.slot, known)
      found = rechecked instanceof Promise ? await rechecked : rechecked
    }
  } catch (error) {
    // Reads degrade: without a fence we must not write, but the loader still answers.
    reportBackendError(core, c.scope, 'read', c.key, error)
    forgetLock(c, token)
    return loadOnly(c, loader)
  }

  const entry = found === 'invalidated' ? undefined : found
  const state: Freshness = entry && reply.slot ? classify(reply.slot, reply.now) : 'expired'
  const holding = reply.lock === 'acquired'
  const fence = reply.slot?.gen ?? ''
  // A load counts from a backend time taken before the loader runs, on the clock that stamps tag
  // invalidations when the call's tags were read (on a cluster they live on another node).
  const startedAt = reply.tagNow ?? reply.now

  if (entry && reply.slot && state === 'fresh') {
    // The lock can be ours even on a fresh hit: a forced read after a tag check, answered by an entry
    // another process wrote in between. Not released, it would hold every other process for lockTtl.
    if (holding) releaseQuietly(c, token)
    markPresent(core, c.full)
    if (policy.earlyRefresh > 0) maybeRefreshEarly(c, loader, reply.slot, entry, reply.now)
    return { value: entry.value, kind: 'hit' }
  }
  if (entry && state === 'stale') {
    if (holding && (core.backoff.get(c.full) ?? 0) > core.clock.now()) {
      // The last refresh failed a moment ago: serve stale without calling the loader again yet.
      releaseQuietly(c, token)
    } else if (holding) {
      const plan = { fence, token, stale: { value: entry.value }, startedAt, known }
      track(core, refresh(c, loader, plan, 'stale-while-revalidate'))
    }
    return { value: entry.value, kind: 'stale' }
  }
  const stale = entry && state === 'stale-if-error' ? { value: entry.value } : undefined
  if (stale && (core.backoff.get(c.full) ?? 0) > core.clock.now()) {
    // The loader failed a moment ago: keep serving stale instead of calling it on every request.
    releaseQuietly(c, holding ? token : null)
    return { value: stale.value, kind: 'stale' }
  }
  if (reply.lock === 'held') {
    const waited = await waitForHolder(c, token, stale)
    core.telemetry.lockWaited(siteOf(c), waited.timedOut === true)
    if (waited.outcome) return waited.outcome
    const plan: LoadPlan = {
      fence: waited.fence,
      token: waited.holding ? token : null,
      stale: waited.stale ?? stale,
      startedAt: waited.now ?? startedAt,
    }
    return loadWithSoftTimeout(c, loader, plan)
  }
  return loadWithSoftTimeout(c, loader, { fence, token: holding ? token : null, stale, startedAt, known })
}

/** Calls the loader without reading or writing the backend (caching off, ttl 0, or the read failed). */
export function loadOnly<T>(c: Call, loader: Loader<T>): Promise<Outcome> {
  return load(c, loader, { fence: null, token: null, stale: undefined, startedAt: 0 })
}

/**
 * With a stale value and `softTimeout`, callers get the stale value once the load has taken that
 * long; the load carries on in the background and stores its result.
 */
async function loadWithSoftTimeout<T>(c: Call, loader: Loader<T>, plan: LoadPlan): Promise<Outcome> {
  const soft = c.call.policy.softTimeout
  const loading = load(c, loader, plan)
  if (!plan.stale || soft <= 0) return loading
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), soft)
  })
  const first = await Promise.race([loading, late]).finally(() => clearTimeout(timer))
  if (first !== 'late') return first
  track(c.core, announce(c, loading, 'soft-timeout'))
  return { value: plan.stale.value, kind: 'stale' }
}

/** A background load; emits `refresh` when it stored a new value. Never rejects. */
function refresh<T>(c: Call, loader: Loader<T>, plan: LoadPlan, reason: RefreshReason): Promise<unknown> {
  return announce(c, load(c, loader, plan), reason)
}

function announce(c: Call, loading: Promise<Outcome>, reason: RefreshReason): Promise<unknown> {
  return loading.then(
    (outcome) => {
      if (outcome.kind === 'miss') c.core.telemetry.refreshed(siteOf(c), reason)
    },
    () => {
      // Already counted as a load error and emitted; callers were served.
    },
  )
}

/**
 * XFetch: refresh a fresh entry early with probability rising as expiry nears, scaled by how long
 * its last load took, so a hot key is usually refreshed once before it expires instead of stampeding.
 */
function maybeRefreshEarly<T>(c: Call, loader: Loader<T>, slot: Slot, entry: Required<EntryBody>, now: number) {
  const { core } = c
  if (entry.loadMs <= 0 || core.refreshing.has(c.full)) return
  const gap = slot.freshUntil - now
  if (-entry.loadMs * c.call.policy.earlyRefresh * Math.log(Math.random()) < gap) return
  core.refreshing.add(c.full)
  const token = randomToken()
  const task = bounded(core, 'read', () => core.adapter.read(c.full, lockRequest(core, token, true), tagReadOf(c)))
    .then((reply) => {
      // Another process is refreshing it already: nothing to do.
      if (reply.lock !== 'acquired') return
      const plan = {
        fence: reply.slot?.gen ?? '',
        token,
        stale: { value: entry.value },
        startedAt: reply.tagNow ?? reply.now,
        known: stampsOf(c.call.tags, reply),
      }
      return refresh(c, loader, plan, 'early-refresh')
    })
    .catch((error) => {
      reportBackendError(core, c.scope, 'read', c.key, error)
      forgetLock(c, token)
    })
    .finally(() => core.refreshing.delete(c.full))
  track(core, task)
}

interface Waited {
  outcome?: Outcome
  fence: string | null
  holding: boolean
  stale?: { value: unknown }
  /** Backend time of the last read, when there was one: a load started now began then. */
  now?: number
  /** The wait ran out (lockWait, or softTimeout with a stale value) before the value landed or the lock freed. */
  timedOut?: boolean
}

/**
 * Another process holds the lock: poll with jittered back-off until its value lands, the lock is
 * free (then take it), or `lockWait` runs out (then load without it; the fence still guards the
 * write). With a stale value and `softTimeout`, waiting ends at the soft timeout with the stale value.
 */
async function waitForHolder(c: Call, token: string, stale: { value: unknown } | undefined): Promise<Waited> {
  const { core } = c
  const tagRead = tagReadOf(c)
  const soft = c.call.policy.softTimeout
  const deadline = core.clock.now() + (stale && soft > 0 ? Math.min(soft, core.lockWait) : core.lockWait)
  let delay = 5
  let fence: string | null = null
  let seenAt: number | undefined
  while (core.clock.now() < deadline && !core.lifetime.signal.aborted) {
    const pause = Math.min(delay, Math.max(1, deadline - core.clock.now())) * (0.75 + Math.random() * 0.5)
    // Woken as soon as the holder's write or release is announced, where the adapter can; else a poll.
    await (core.adapter.waitForWrite ? core.adapter.waitForWrite(c.full, pause) : sleep(pause))
    delay = Math.min(delay * 2, 50)
    let reply: ReadReply
    try {
      reply = await bounded(core, 'read', () => core.adapter.read(c.full, lockRequest(core, token), tagRead))
    } catch (error) {
      reportBackendError(core, c.scope, 'read', c.key, error)
      forgetLock(c, token)
      return { fence: null, holding: false }
    }
    let found = await usableEntry(c, reply.slot, stampsOf(c.call.tags, reply))
    if (found === 'invalidated' && reply.lock === 'none') {
      // Fresh to the backend, invalidated by a tag: the script took no lock, so ask for it outright.
      try {
        reply = await bounded(core, 'read', () => core.adapter.read(c.full, lockRequest(core, token, true)))
      } catch (error) {
        reportBackendError(core, c.scope, 'read', c.key, error)
        forgetLock(c, token)
        return { fence: null, holding: false }
      }
      found = await usableEntry(c, reply.slot)
    }
    fence = reply.slot?.gen ?? ''
    seenAt = reply.tagNow ?? reply.now
    const entry = found === 'invalidated' ? undefined : found
    const state = entry && reply.slot ? classify(reply.slot, reply.now) : 'expired'
    if (entry && state === 'fresh') {
      if (reply.lock === 'acquired') releaseQuietly(c, token)
      return { outcome: { value: entry.value, kind: 'miss' }, fence, holding: false }
    }
    const nowStale = entry && state !== 'expired' ? { value: entry.value } : stale
    if (reply.lock === 'acquired')
      return { fence, holding: true, now: seenAt, ...(nowStale ? { stale: nowStale } : {}) }
  }
  const timedOut = !core.lifetime.signal.aborted
  if (stale && soft > 0) return { outcome: { value: stale.value, kind: 'stale' }, fence, holding: false, timedOut }
  return {
    fence,
    holding: false,
    timedOut,
    ...(seenAt === undefined ? {} : { now: seenAt }),
    ...(stale ? { stale } : {}),
  }
}

interface LoadPlan {
  /** Generation to fence the write on; `null` means do not write. */
  fence: string | null
  /** Lock token held, to extend during the load and release when nothing is written. */
  token: string | null
  stale: { value: unknown } | undefined
  /** Backend time of the read that decided to load: tag invalidations at or after it win. */
  startedAt: number
  /** Stamps of the call's tags read beside the entry, when they were. */
  known?: TagStamps | undefined
}

/** Calls the loader once and stores its value (fenced), falling back to stale on a loader error. */
async function load<T>(c: Call, loader: Loader<T>, plan: LoadPlan): Promise<Outcome> {
  const { core, scope, call } = c
  const { policy } = call
  let ttl = policy.ttl
  let tags = call.tags
  let skip = false
  // Created only when the loader reads ctx.signal or a hard timeout needs it: most loads never do.
  // Tracked in one set on the core rather than a listener per load on the lifetime signal: hundreds
  // of concurrent loads would each add one (and Node warns past ten).
  let abort: AbortController | undefined
  const controller = () => {
    abort ??= new AbortController()
    if (core.lifetime.signal.aborted && !abort.signal.aborted) abort.abort(core.lifetime.signal.reason)
    return abort
  }
  // close() ends the load even when the loader ignores its signal (a query without a timeout), so a
  // closed client never waits on it, nor keeps extending its lock.
  let stopped: ((reason: unknown) => void) | undefined
  const closed = new Promise<never>((_, reject) => {
    stopped = reject
  })
  closed.catch(() => {})
  const stop = (reason: unknown) => {
    abort?.abort(reason)
    stopped?.(reason)
  }
  core.loads.add(stop)
  const ctx: LoaderContext<T> = {
    key: c.key,
    get signal() {
      return controller().signal
    },
    stale: plan.stale?.value as T | undefined,
    setTtl(value) {
      const ms = parseDuration(value)
      if (ms === undefined) {
        throw new CacheOptionsError([{ path: 'ctx.setTtl', message: `expected a duration, got ${String(value)}` }])
      }
      ttl = ms
    },
    setTags(value) {
      if (!isTagList(value)) {
        throw new CacheOptionsError([
          { path: 'ctx.setTags', message: 'expected an array of non-empty strings (at most 256 characters)' },
        ])
      }
      tags = value
    },
    skipCache() {
      skip = true
    },
  }

  // Only a load that will be stored closes its flight: a pass-through has nothing to protect.
  if (plan.fence !== null) c.seal?.()
  const site = siteOf(c)
  const started = core.clock.now()
  const elapsedFrom = now()
  core.telemetry.loadStarted(site)
  const heartbeat = plan.token ? keepLock(c, plan.token) : undefined
  let value: T
  try {
    value = await Promise.race([withHardTimeout(c, controller, () => loader(ctx)), closed])
  } catch (error) {
    core.telemetry.loadFailed(site, error, core.clock.now() - started, error instanceof CacheLoadTimeoutError)
    releaseQuietly(c, plan.token)
    if (plan.stale) {
      rememberFailure(core, c.full, policy.errorBackoff)
      return { value: plan.stale.value, kind: 'stale' }
    }
    throw error
  } finally {
    heartbeat?.()
    core.loads.delete(stop)
  }
  core.backoff.delete(c.full)
  const loadMs = core.clock.now() - started
  core.telemetry.loaded(site, loadMs, now() - elapsedFrom)

  if (call.schema) {
    const checked = await validate(call.schema, value)
    if (!checked.ok) {
      core.telemetry.loadRejected(site)
      releaseQuietly(c, plan.token)
      throw new CacheSchemaError(c.key, checked.issues)
    }
    value = checked.value as T
  }

  if (value === undefined || skip || ttl === 0 || plan.fence === null || loadMs >= FENCE_WINDOW_MS) {
    releaseQuietly(c, plan.token)
    return { value, kind: 'miss' }
  }

  let body: string
  try {
    body = encodeEntry({ value, tags, loadMs, startedAt: plan.startedAt }, core.serializer)
  } catch (error) {
    // The caller still gets the value; only caching it is impossible.
    reportBackendError(core, scope, 'encode', c.key, new CacheValueError(c.key, describe(error)))
    releaseQuietly(c, plan.token)
    return { value, kind: 'miss' }
  }

  if (tags.length > 0 && !(await tagRecordsReady(c, tags, plan))) {
    releaseQuietly(c, plan.token)
    return { value, kind: 'miss' }
  }

  // Jitter only ever shortens the fresh period, so entries written together expire apart.
  if (policy.jitter > 0) ttl = Math.max(1, Math.round(ttl * (1 - policy.jitter * Math.random())))
  const { staleWhileRevalidate, staleIfError } = policy
  try {
    const request = entryWrite(plan.fence, randomToken(), ttl, staleWhileRevalidate, staleIfError, body)
    const written = await bounded(core, 'write', () => core.adapter.write(c.full, request))
    if (written) markPresent(core, c.full)
  } catch (error) {
    reportBackendError(core, scope, 'write', c.key, error)
    releaseQuietly(c, plan.token)
  }
  return { value, kind: 'miss' }
}

/** Runs the loader; past `hardTimeout`, aborts its signal and rejects with {@link CacheLoadTimeoutError}. */
async function withHardTimeout<T>(c: Call, controller: () => AbortController, run: () => T | Promise<T>): Promise<T> {
  const hard = c.call.policy.hardTimeout
  if (hard <= 0) return run()
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new CacheLoadTimeoutError(c.key, hard)
      controller().abort(error)
      reject(error)
    }, hard)
  })
  try {
    return await Promise.race([Promise.resolve().then(run), expired])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Extends the lock every half `lockTtl` while a load runs, so a slow load keeps other processes
 * waiting rather than loading. Armed on the shared deadline buckets, not a timer per load; returns
 * the function that stops it.
 */
function keepLock(c: Call, token: string): (() => void) | undefined {
  const { core } = c
  const extend = core.adapter.extend
  if (!extend) return undefined
  let cancel: (() => void) | undefined
  const arm = () => {
    cancel = watchDeadline(Math.max(10, core.lockTtl / 2), () => {
      bounded(core, 'extend', () => extend.call(core.adapter, c.full, token, core.lockTtl)).catch((error) => {
        reportBackendError(core, c.scope, 'extend', c.key, error)
      })
      arm()
    })
  }
  arm()
  return () => cancel?.()
}

function rememberFailure(core: Core, full: string, backoff: number) {
  if (backoff <= 0) return
  if (core.backoff.size >= MAX_BACKOFF_KEYS) {
    const oldest = core.backoff.keys().next()
    if (!oldest.done) core.backoff.delete(oldest.value)
  }
  core.backoff.set(full, core.clock.now() + backoff)
}

/**
 * Every tag of an entry needs a record before the entry is written, or no read would trust it. A
 * record found missing is created stamped at the backend's current time, never earlier: if that
 * is not before this load began (a record lost or first used during the load), the write is skipped
 * and the next load stores the value. False too when a tag was invalidated during the load, or the
 * records cannot be read.
 */
async function tagRecordsReady(c: Call, tags: readonly string[], plan: LoadPlan): Promise<boolean> {
  const known = plan.known
  const stamps = known && tags.every((tag) => known.has(tag)) ? known : await readTagStamps(c, tags)
  return stamps !== null && tags.every((tag) => (stamps.get(tag) ?? Number.POSITIVE_INFINITY) < plan.startedAt)
}

/** Releases a lock without making the caller wait; a failure is counted (the lock then expires by its TTL). */
function releaseQuietly(c: Call, token: string | null) {
  if (token === null) return
  const task = bounded(c.core, 'release', () => c.core.adapter.release(c.full, token)).catch((error) => {
    reportBackendError(c.core, c.scope, 'release', c.key, error)
  })
  c.core.background.add(task)
  void task.finally(() => c.core.background.delete(task))
}

/**
 * A read that timed out may still run later (clients replay queued commands after a reconnect) and
 * take the lock for a caller that has moved on. The release, sent on the same connection, runs after
 * it. Its own failure is not reported again: the read's failure already was.
 */
function forgetLock(c: Call, token: string) {
  const task = bounded(c.core, 'release', () => c.core.adapter.release(c.full, token)).catch(() => {})
  c.core.background.add(task)
  void task.finally(() => c.core.background.delete(task))
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
