/**
 * The cache-aside algorithm: read (or take the lock) → classify → wait or load → validate → fenced write.
 *
 * Round trips: a hit is one read; a miss is one read that also takes the lock, then one write that
 * is fenced on the generation read and releases the lock. Concurrent callers of one key in one
 * process share all of it (single-flight). Correctness never rests on the lock: the fence does.
 * @module
 */
import type { CacheAdapter, ReadReply, Slot } from './adapters/adapter.js'
import type { Clock } from './clock.js'
import { parseDuration } from './duration.js'
import { decodeEntry, type EntryBody, encodeEntry } from './entry.js'
import { CacheOptionsError, CacheSchemaError, CacheTimeoutError, CacheValueError } from './errors.js'
import { backendError, type CacheEventMap, type Emitter } from './events.js'
import type { SingleFlight } from './flight.js'
import { classify, expiryOf, type Freshness } from './freshness.js'
import { isTagList } from './keys.js'
import type { Counters, Metrics } from './metrics.js'
import type { Policy, ResolvedCall } from './options.js'
import type { Serializer } from './serializer.js'
import { validate } from './standard-schema.js'

/**
 * Tombstones live this long. A load that runs longer than this does not write its value back,
 * because a tombstone left by an invalidation during the load might have expired.
 */
export const FENCE_WINDOW_MS = 60_000

/**
 * Tag records live this long after their last write. One that expires is recreated as "invalidated
 * just now" (see TagReply), so expiry costs at most one reload of the entries carrying the tag.
 */
export const TAG_TTL_MS = 7 * 86_400_000

/** What a loader receives. */
export interface LoaderContext<T = unknown> {
  /** The logical key being loaded. */
  readonly key: string
  /** Aborted when the client is closed. */
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

/** A loader: returns the value (or a promise of it) for a key. */
export type Loader<T> = (ctx: LoaderContext<T>) => T | Promise<T>

/** State shared by a client and its namespaces. */
export interface Core {
  readonly adapter: CacheAdapter
  readonly serializer: Serializer
  readonly clock: Clock
  readonly metrics: Metrics
  readonly events: Emitter
  readonly flight: SingleFlight<Outcome>
  readonly timeout: number
  readonly lockTtl: number
  readonly lockWait: number
  readonly background: Set<Promise<unknown>>
  readonly lifetime: AbortController
}

/** Where a call runs: its namespace prefix and merged freshness policy. */
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

interface Call {
  core: Core
  scope: Scope
  key: string
  full: string
  call: ResolvedCall
}

/** Random token with 128 bits of entropy (lock tokens and generations). Web Crypto: edge-safe. */
export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let out = ''
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16)
  return out
}

/** Bounds one backend operation by the client's `timeout`. */
export function bounded<T>(core: Core, operation: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CacheTimeoutError(`${core.adapter.name} ${operation}`, core.timeout)),
      core.timeout,
    )
  })
  // The losing side must never become an unhandled rejection.
  work.catch(() => {})
  return Promise.race([work, limit]).finally(() => clearTimeout(timer))
}

/** Counts a backend failure and emits it as a redacted `error` event. */
export function reportBackendError(
  core: Core,
  scope: Scope,
  operation: string,
  key: string | undefined,
  cause: unknown,
) {
  const error = backendError(core.adapter.name, operation, cause)
  core.metrics.count('errors')
  core.events.emit('error', { operation, key, namespace: scope.namespace, error })
  return error
}

/** Counts one served call and emits its event. */
export function countServed(c: Pick<Call, 'core' | 'scope' | 'key' | 'call'>, kind: Outcome['kind']) {
  const counter: keyof Counters = kind === 'hit' ? 'hits' : kind === 'stale' ? 'staleHits' : 'misses'
  const event: keyof CacheEventMap = kind === 'hit' ? 'hit' : kind === 'stale' ? 'stale-hit' : 'miss'
  c.core.metrics.count(counter, c.call.category)
  if (c.core.events.has(event)) {
    c.core.events.emit(event, { key: c.key, namespace: c.scope.namespace, category: c.call.category })
  }
}

/**
 * Invalidation stamps by tag (`null` for a tag without a record); `null` as a whole when they could
 * not be read. Either way, an entry carrying such a tag is not trusted.
 */
export type TagStamps = Map<string, number | null> | null

/** Reads the stamps of `tags` in one round trip; a failure is reported and yields `null`. */
export async function readTagStamps(c: Call, tags: readonly string[], createAt?: number | 'now'): Promise<TagStamps> {
  try {
    const keys = tags.map((tag) => c.scope.tagPrefix + tag)
    const reply = await bounded(c.core, 'readTags', c.core.adapter.readTags(keys, TAG_TTL_MS, createAt))
    return new Map(tags.map((tag, i) => [tag, reply.stamps[i] ?? null]))
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
export async function usableEntry(
  c: Call,
  slot: Slot | null,
  known?: TagStamps,
): Promise<Required<EntryBody> | 'invalidated' | undefined> {
  if (!slot || slot.body === '') return undefined
  const entry = decodeEntry(slot.body, c.core.serializer)
  if (!entry) {
    reportBackendError(c.core, c.scope, 'decode', c.key, new Error('corrupted or foreign entry; treated as a miss'))
    return undefined
  }
  if (entry.tags.length > 0) {
    if (known === null) return 'invalidated'
    const missing = known ? entry.tags.filter((t) => !known.has(t)) : entry.tags
    const fetched = missing.length > 0 ? await readTagStamps(c, missing) : undefined
    if (fetched === null) return 'invalidated'
    // Entries written by set() have no load start: they count from the moment they were written.
    const began = entry.startedAt || slot.createdAt
    for (const tag of entry.tags) {
      const stamp = known?.has(tag) ? known.get(tag) : fetched?.get(tag)
      if (stamp === null || stamp === undefined || stamp >= began) return 'invalidated'
    }
  }
  if (c.call.schema) {
    const checked = await validate(c.call.schema, entry.value)
    if (!checked.ok) return undefined
    return { ...entry, value: checked.value }
  }
  return entry
}

/** `getOrSet`: resolves one flight for `full` (the caller counts and returns its outcome). */
export async function resolveFlight<T>(c: Call, loader: Loader<T>): Promise<Outcome> {
  const { core } = c
  if (c.call.policy.ttl === 0) return load(c, loader, { fence: null, token: null, stale: undefined, startedAt: 0 })

  const token = randomToken()
  // The call's own tags are read beside the entry, so a tagged hit costs no extra round trip.
  const tagStamps = c.call.tags.length > 0 ? readTagStamps(c, c.call.tags) : undefined
  let reply: ReadReply
  let found: Awaited<ReturnType<typeof usableEntry>>
  try {
    reply = await bounded(core, 'read', core.adapter.read(c.full, { token, ttl: core.lockTtl, keep: FENCE_WINDOW_MS }))
    if (reply.garbage)
      reportBackendError(core, c.scope, 'read', c.key, new Error('foreign data at key; treated as a miss'))
    found = await usableEntry(c, reply.slot, await tagStamps)
    if (found === 'invalidated' && reply.lock === 'none') {
      // The backend saw a fresh slot and took no lock; a tag made it stale, so take the lock now.
      reply = await bounded(
        core,
        'read',
        core.adapter.read(c.full, { token, ttl: core.lockTtl, keep: FENCE_WINDOW_MS, force: true }),
      )
      found = await usableEntry(c, reply.slot, await tagStamps)
    }
  } catch (error) {
    // Reads degrade: without a fence we must not write, but the loader still answers.
    reportBackendError(core, c.scope, 'read', c.key, error)
    forgetLock(c, token)
    return load(c, loader, { fence: null, token: null, stale: undefined, startedAt: 0 })
  }

  const known = await tagStamps
  const entry = found === 'invalidated' ? undefined : found
  const state: Freshness = entry && reply.slot ? classify(reply.slot, reply.now) : 'expired'
  const holding = reply.lock === 'acquired'
  const fence = reply.slot?.gen ?? ''

  if (entry && state === 'fresh') return { value: entry.value, kind: 'hit' }
  if (entry && state === 'stale') {
    if (holding)
      refreshInBackground(c, loader, { fence, token, stale: { value: entry.value }, startedAt: reply.now, known })
    return { value: entry.value, kind: 'stale' }
  }
  const stale = entry && state === 'stale-if-error' ? { value: entry.value } : undefined
  if (reply.lock === 'held') {
    const waited = await waitForHolder(c, token, stale)
    if (waited.outcome) return waited.outcome
    return load(c, loader, {
      fence: waited.fence,
      token: waited.holding ? token : null,
      stale: waited.stale ?? stale,
      startedAt: waited.now ?? reply.now,
    })
  }
  return load(c, loader, { fence, token: holding ? token : null, stale, startedAt: reply.now, known })
}

/** Calls the loader with caching off (`enabled: false`): counted and emitted like any load, never stored. */
export function loadOnly<T>(c: Call, loader: Loader<T>): Promise<Outcome> {
  return load(c, loader, { fence: null, token: null, stale: undefined, startedAt: 0 })
}

/** Starts a stale-while-revalidate refresh that no caller awaits; failures are counted, never unhandled. */
function refreshInBackground<T>(c: Call, loader: Loader<T>, plan: LoadPlan) {
  const task = load(c, loader, plan).catch(() => {
    // Already counted as a load error and emitted; the stale value was served.
  })
  c.core.background.add(task)
  void task.finally(() => c.core.background.delete(task))
}

interface Waited {
  outcome?: Outcome
  fence: string | null
  holding: boolean
  stale?: { value: unknown }
  /** Backend time of the last read, when there was one: a load started now began then. */
  now?: number
}

/**
 * Another process holds the lock: poll with jittered back-off until its value lands, the lock is
 * free (then take it), or `lockWait` runs out (then load without it; the fence still guards the write).
 */
async function waitForHolder(c: Call, token: string, stale: { value: unknown } | undefined): Promise<Waited> {
  const { core } = c
  const deadline = core.clock.now() + core.lockWait
  let delay = 5
  let fence: string | null = null
  let now: number | undefined
  while (core.clock.now() < deadline && !core.lifetime.signal.aborted) {
    await sleep(Math.min(delay, Math.max(1, deadline - core.clock.now())) * (0.75 + Math.random() * 0.5))
    delay = Math.min(delay * 2, 50)
    let reply: ReadReply
    try {
      reply = await bounded(
        core,
        'read',
        core.adapter.read(c.full, { token, ttl: core.lockTtl, keep: FENCE_WINDOW_MS }),
      )
    } catch (error) {
      reportBackendError(core, c.scope, 'read', c.key, error)
      forgetLock(c, token)
      return { fence: null, holding: false }
    }
    fence = reply.slot?.gen ?? ''
    now = reply.now
    const found = await usableEntry(c, reply.slot)
    const entry = found === 'invalidated' ? undefined : found
    const state = entry && reply.slot ? classify(reply.slot, reply.now) : 'expired'
    if (entry && state === 'fresh') return { outcome: { value: entry.value, kind: 'miss' }, fence, holding: false }
    const nowStale = entry && state !== 'expired' ? { value: entry.value } : stale
    if (reply.lock === 'acquired')
      return { fence, holding: true, now: reply.now, ...(nowStale ? { stale: nowStale } : {}) }
  }
  return { fence, holding: false, ...(now === undefined ? {} : { now }), ...(stale ? { stale } : {}) }
}

interface LoadPlan {
  /** Generation to fence the write on; `null` means do not write. */
  fence: string | null
  /** Lock token held, to release when nothing is written. */
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
  let ttl = call.policy.ttl
  let tags = call.tags
  let skip = false
  const ctx: LoaderContext<T> = {
    key: c.key,
    signal: core.lifetime.signal,
    stale: plan.stale?.value as T | undefined,
    setTtl(value) {
      const ms = parseDuration(value)
      if (ms === undefined)
        throw new CacheOptionsError([{ path: 'ctx.setTtl', message: `expected a duration, got ${String(value)}` }])
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

  const started = core.clock.now()
  core.metrics.count('loads', call.category)
  let value: T
  try {
    value = await loader(ctx)
  } catch (error) {
    core.metrics.count('loadErrors', call.category)
    core.events.emit('load-error', { key: c.key, namespace: scope.namespace, category: call.category, error })
    releaseQuietly(c, plan.token)
    if (plan.stale) return { value: plan.stale.value, kind: 'stale' }
    throw error
  }
  const loadMs = core.clock.now() - started
  core.events.emit('load', { key: c.key, namespace: scope.namespace, category: call.category, durationMs: loadMs })

  if (call.schema) {
    const checked = await validate(call.schema, value)
    if (!checked.ok) {
      core.metrics.count('loadErrors', call.category)
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

  const { staleWhileRevalidate, staleIfError } = call.policy
  try {
    await bounded(
      core,
      'write',
      core.adapter.write(c.full, {
        fence: plan.fence,
        gen: randomToken(),
        ttl,
        staleWhileRevalidate,
        staleIfError,
        expireIn: expiryOf(ttl, staleWhileRevalidate, staleIfError),
        body,
      }),
    )
  } catch (error) {
    reportBackendError(core, scope, 'write', c.key, error)
    releaseQuietly(c, plan.token)
  }
  return { value, kind: 'miss' }
}

/**
 * Every tag of an entry needs a record before the entry is written, or the first read would not trust
 * it. Missing records are created stamped just before this load began, which no invalidation that
 * happened during the load can be confused with: an existing record is never lowered. False when the
 * records cannot be read, or a tag was invalidated during the load (the value is stale already).
 */
async function tagRecordsReady(c: Call, tags: readonly string[], plan: LoadPlan): Promise<boolean> {
  const known = plan.known
  const allKnown = known && tags.every((tag) => typeof known.get(tag) === 'number')
  const stamps = allKnown ? known : await readTagStamps(c, tags, plan.startedAt - 0.001)
  if (stamps === null) return false
  return tags.every((tag) => {
    const stamp = stamps.get(tag)
    return typeof stamp === 'number' && stamp < plan.startedAt
  })
}

/** Releases a lock without making the caller wait; a failure is counted (the lock then expires by its TTL). */
function releaseQuietly(c: Call, token: string | null) {
  if (token === null) return
  const task = bounded(c.core, 'release', c.core.adapter.release(c.full, token)).catch((error) => {
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
  const task = bounded(c.core, 'release', c.core.adapter.release(c.full, token)).catch(() => {})
  c.core.background.add(task)
  void task.finally(() => c.core.background.delete(task))
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
