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
import type { Counters, Metrics } from './metrics.js'
import type { Policy, ResolvedCall } from './options.js'
import type { Serializer } from './serializer.js'
import { validate } from './standard-schema.js'

/**
 * Tombstones live this long. A load that runs longer than this does not write its value back,
 * because a tombstone left by an invalidation during the load might have expired.
 */
export const FENCE_WINDOW_MS = 60_000

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

/** Decodes and validates the entry of a slot; reports corrupt bodies. `undefined` when unusable. */
export async function usableEntry(c: Call, slot: Slot | null): Promise<EntryBody | undefined> {
  if (!slot || slot.body === '') return undefined
  const entry = decodeEntry(slot.body, c.core.serializer)
  if (!entry) {
    reportBackendError(c.core, c.scope, 'decode', c.key, new Error('corrupted or foreign entry; treated as a miss'))
    return undefined
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
  if (c.call.policy.ttl === 0) return load(c, loader, { fence: null, token: null, stale: undefined })

  const token = randomToken()
  let reply: ReadReply
  try {
    reply = await bounded(core, 'read', core.adapter.read(c.full, { token, ttl: core.lockTtl }))
  } catch (error) {
    // Reads degrade: without a fence we must not write, but the loader still answers.
    reportBackendError(core, c.scope, 'read', c.key, error)
    forgetLock(c, token)
    return load(c, loader, { fence: null, token: null, stale: undefined })
  }
  if (reply.garbage)
    reportBackendError(core, c.scope, 'read', c.key, new Error('foreign data at key; treated as a miss'))

  const entry = await usableEntry(c, reply.slot)
  const state: Freshness = entry && reply.slot ? classify(reply.slot, reply.now) : 'expired'
  const holding = reply.lock === 'acquired'
  const fence = reply.slot?.gen ?? ''

  if (entry && state === 'fresh') return { value: entry.value, kind: 'hit' }
  if (entry && state === 'stale') {
    if (holding) refreshInBackground(c, loader, fence, token, entry.value)
    return { value: entry.value, kind: 'stale' }
  }
  const stale = entry && state === 'stale-if-error' ? { value: entry.value } : undefined
  if (reply.lock === 'held') {
    const waited = await waitForHolder(c, token, stale)
    if (waited.outcome) return waited.outcome
    return load(c, loader, { fence: waited.fence, token: waited.holding ? token : null, stale: waited.stale ?? stale })
  }
  return load(c, loader, { fence, token: holding ? token : null, stale })
}

/** Starts a stale-while-revalidate refresh that no caller awaits; failures are counted, never unhandled. */
function refreshInBackground<T>(c: Call, loader: Loader<T>, fence: string, token: string, staleValue: unknown) {
  const task = load(c, loader, { fence, token, stale: { value: staleValue } }).catch(() => {
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
  while (core.clock.now() < deadline && !core.lifetime.signal.aborted) {
    await sleep(Math.min(delay, Math.max(1, deadline - core.clock.now())) * (0.75 + Math.random() * 0.5))
    delay = Math.min(delay * 2, 50)
    let reply: ReadReply
    try {
      reply = await bounded(core, 'read', core.adapter.read(c.full, { token, ttl: core.lockTtl }))
    } catch (error) {
      reportBackendError(core, c.scope, 'read', c.key, error)
      forgetLock(c, token)
      return { fence: null, holding: false }
    }
    fence = reply.slot?.gen ?? ''
    const entry = await usableEntry(c, reply.slot)
    const state = entry && reply.slot ? classify(reply.slot, reply.now) : 'expired'
    if (entry && state === 'fresh') return { outcome: { value: entry.value, kind: 'miss' }, fence, holding: false }
    const nowStale = entry && state !== 'expired' ? { value: entry.value } : stale
    if (reply.lock === 'acquired')
      return nowStale ? { fence, holding: true, stale: nowStale } : { fence, holding: true }
  }
  return stale ? { fence, holding: false, stale } : { fence, holding: false }
}

interface LoadPlan {
  /** Generation to fence the write on; `null` means do not write. */
  fence: string | null
  /** Lock token held, to release when nothing is written. */
  token: string | null
  stale: { value: unknown } | undefined
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
      if (!Array.isArray(value) || !value.every((t) => typeof t === 'string' && t.length > 0)) {
        throw new CacheOptionsError([{ path: 'ctx.setTags', message: 'expected an array of non-empty strings' }])
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
    body = encodeEntry({ value, tags, loadMs }, core.serializer)
  } catch (error) {
    // The caller still gets the value; only caching it is impossible.
    reportBackendError(core, scope, 'encode', c.key, new CacheValueError(c.key, describe(error)))
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
