/**
 * `getOrSet`, the flow only: single-flight → the cheap hit → read (taking the lock) → decide → serve,
 * refresh, wait or load. What each step does lives in its own module: `freshness.ts` decides,
 * `lock.ts` waits, `load.ts` loads, `write.ts` writes, `refresh.ts` refreshes in the background.
 *
 * Round trips: a hit is one read; a miss is one read that also takes the lock, then one write that
 * is fenced on the generation read and releases the lock. Concurrent callers of one key in one
 * process share all of it (single-flight). Correctness never rests on the lock: the fence does.
 * @module
 */
import type { ReadReply } from './adapters/adapter.js'
import { resolveCallOptions } from './call-options.js'
import type { Core } from './core.js'
import {
  type Call,
  countServed,
  fullKey,
  type Loader,
  type Outcome,
  reportBackendError,
  type Scope,
  siteOf,
  track,
} from './core.js'
import { CacheOptionsError } from './errors.js'
import { classify, decide } from './freshness.js'
import { assertKey } from './keys.js'
import { backingOff, type LoadPlan, loadOnly } from './load.js'
import { fenceOf, forgetLock, lockRequest, releaseQuietly, waitForHolder } from './lock.js'
import type { GetOrSetOptions } from './options.js'
import { fillTier, freshHit, markPresent, NO_HIT, peekHit, type Usable, usableEntry } from './read.js'
import { loadWithSoftTimeout, maybeRefreshEarly, refreshInBackground } from './refresh.js'
import { noteStamps, stampsOf, tagReadOf } from './tags.js'
import { now } from './telemetry.js'
import { randomToken } from './token.js'

/**
 * `getOrSet` of a client: validates the call, answers from the in-process tier when it can (one promise,
 * no backend command, no flight), else runs or joins its flight and counts what the caller got. Throws
 * synchronously on bad input; the client turns that into a rejection.
 */
export function getOrSet<T>(
  core: Core,
  scope: Scope,
  enabled: boolean,
  key: string,
  loader: Loader<T>,
  options: GetOrSetOptions<T> | undefined,
): Promise<T> {
  assertKey(key)
  if (typeof loader !== 'function') {
    throw new CacheOptionsError([{ path: 'loader', message: `expected a function, got ${typeof loader}` }])
  }
  const startedAt = now()
  const call = resolveCallOptions('getOrSet', scope.policy, options)
  if (call.signal?.aborted) {
    // Its arguments were accepted; it got no value: a miss, as a call aborted a moment later.
    core.telemetry.served(key, scope.namespace, call.category, 'miss', startedAt)
    throw call.signal.reason
  }
  const l1 = core.l1
  // A hit is a few map lookups by the full key: a fresh concatenation would cost as much as the rest of a tier hit.
  const full = fullKey(scope, key)
  if (l1 !== undefined && scope.l1 !== false && enabled && call.policy.ttl > 0) {
    l1.listen()
    // One clock reading serves the call's latency, the tier's own expiry and the entry's freshness.
    const entry = l1.get(full, startedAt)
    if (entry !== undefined && entry.schema === call.schema) {
      // The tier holds only what a backend read returned, so the backend's clock is known (undefined only if the
      // key's server changed since, a failover: then every comparison below is false and the call reads).
      const backendNow = core.backend.at(startedAt, full) as number
      if (backendNow < entry.freshUntil) {
        core.telemetry.syncHit(key, scope.namespace, call.category, startedAt, 'l1')
        if (call.policy.earlyRefresh > 0) {
          maybeRefreshEarly({ core, scope, key, full, call }, loader, entry, entry.freshUntil - backendNow)
        }
        return entry.settled as Promise<T>
      }
      if (backendNow < entry.staleUntil) {
        core.telemetry.served(key, scope.namespace, call.category, 'stale', startedAt, 'l1')
        refreshFromTier({ core, scope, key, full, call }, loader)
        return entry.settled as Promise<T>
      }
    }
  }
  // An in-process store (the memory adapter) answers a fresh hit synchronously, on the same lean path.
  if (core.backend.freshSync !== undefined && enabled && call.policy.ttl > 0 && call.policy.earlyRefresh === 0) {
    const value = freshHit({ core, scope, key, full, call })
    if (value !== NO_HIT) {
      core.telemetry.syncHit(key, scope.namespace, call.category, startedAt, 'l2')
      return Promise.resolve(value as T)
    }
  }
  return runFlight({ core, scope, key, full, call }, enabled, loader, startedAt)
}

/** The rest of `getOrSet`: run or join the key's flight, count what the caller got. */
async function runFlight<T>(c: Call, enabled: boolean, loader: Loader<T>, startedAt: number): Promise<T> {
  const { core, call } = c
  // Caching off: still single-flight, so a disabled cache never multiplies database load.
  const task = enabled
    ? () => resolveFlight(c, loader as Loader<unknown>)
    : () => loadOnly(c, loader as Loader<unknown>)
  const { promise, joined } = core.flight.run(
    c.full,
    task,
    enabled && call.policy.ttl > 0 ? 'this-tick' : 'while-running',
  )
  let outcome: Outcome
  try {
    outcome = call.signal ? await abortable(promise, call.signal) : await promise
  } catch (error) {
    // Every call counts one of hit, stale hit or miss: a call that got no value was a miss.
    countServed(c, 'miss', startedAt)
    throw error
  }
  countServed(c, joined && outcome.kind === 'miss' ? 'miss' : outcome.kind, startedAt)
  return outcome.value as T
}

/**
 * A stale value was served from the in-process tier: refresh it through the usual flow (one per key in
 * this process; across processes the lock allows one). Its read refills the tier when the backend has a
 * fresh value; a load it starts stores one, and the next read brings it into the tier.
 */
function refreshFromTier<T>(c: Call, loader: Loader<T>): void {
  const { core } = c
  if (core.refreshing.has(c.full)) return
  core.refreshing.add(c.full)
  const task = core.flight
    .run(c.full, () => resolveFlight(c, loader as Loader<unknown>))
    .promise.catch(() => {
      // Counted where it failed; the caller was served.
    })
    .finally(() => core.refreshing.delete(c.full))
  track(core, task)
}

/** Resolves one flight for `c.full` (the caller counts and returns its outcome). */
export async function resolveFlight<T>(c: Call, loader: Loader<T>): Promise<Outcome> {
  const { core } = c
  const { policy } = c.call
  if (policy.ttl === 0) return loadOnly(c, loader)
  c.ticket = core.l1?.ticket()
  c.began = now()

  if (
    policy.earlyRefresh === 0 &&
    core.present.has(c.full) &&
    core.backend.canPeek(c.call.tags.length > 0) &&
    core.backend.now(c.full) !== undefined
  ) {
    try {
      const hit = await peekHit(c)
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
  let reply: ReadReply
  let found: Usable
  let known: Map<string, number> | undefined
  // When the call's tags were read, the clock that stamps their invalidations (another node, on a cluster).
  let tagClock: number | undefined
  try {
    // The call's own tags are read with the entry (one script where the backend allows it), so a tagged
    // hit costs no extra round trip and a record created now is stamped before the load's start.
    reply = await core.backend.read(c.full, lockRequest(core, token), tagReadOf(c))
    if (reply.garbage)
      reportBackendError(core, c.scope, 'read', c.key, new Error('foreign data at key; treated as a miss'))
    known = stampsOf(c.call.tags, reply)
    noteStamps(c, reply)
    tagClock = reply.tagNow
    const checked = usableEntry(c, reply.slot, known)
    found = checked instanceof Promise ? await checked : checked
    if (found === 'invalidated' && reply.lock === 'none') {
      // The backend saw a fresh slot and took no lock; a tag made it stale, so take the lock now. This read
      // has no tags: the load still counts from the tag clock of the first one, which came before it.
      reply = await core.backend.read(c.full, lockRequest(core, token, true))
      const rechecked = usableEntry(c, reply.slot, known)
      found = rechecked instanceof Promise ? await rechecked : rechecked
    }
  } catch (error) {
    // Reads degrade: without a fence we must not write, but the loader still answers.
    reportBackendError(core, c.scope, 'read', c.key, error)
    forgetLock(c, token, error)
    return loadOnly(c, loader)
  }

  const entry = found === 'invalidated' ? undefined : found
  const holding = reply.lock === 'acquired'
  const decision = decide({
    freshness: entry && reply.slot ? classify(reply.slot, reply.now) : 'expired',
    lock: reply.lock,
    backingOff: backingOff(core, c.full),
  })
  // A load counts from a backend time taken before the loader runs, on the clock that stamps tag
  // invalidations when the call's tags were read (on a cluster they live on another node).
  const plan: LoadPlan = {
    fence: fenceOf(reply),
    token: holding ? token : null,
    stale: undefined,
    startedAt: tagClock ?? reply.now,
    known,
  }
  switch (decision.action) {
    case 'serve':
      // The lock can be ours even on a fresh hit: a forced read after a tag check, answered by an entry
      // another process wrote in between. Not released, it would hold every other process for lockTtl.
      if (decision.release) releaseQuietly(c, token)
      markPresent(c)
      if (entry && reply.slot) {
        fillTier(c, reply.slot, entry)
        if (policy.earlyRefresh > 0) maybeRefreshEarly(c, loader, entry, reply.slot.freshUntil - reply.now)
      }
      return { value: entry?.value, kind: 'hit' }
    case 'refresh':
      refreshInBackground(c, loader, { ...plan, stale: { value: entry?.value } }, 'stale-while-revalidate')
      return { value: entry?.value, kind: 'stale' }
    case 'serve-stale':
      if (decision.release) releaseQuietly(c, token)
      return { value: entry?.value, kind: 'stale' }
    case 'wait': {
      const stale = decision.fallback ? { value: entry?.value } : undefined
      const waited = await waitForHolder(c, token, stale)
      core.telemetry.lockWaited(siteOf(c), waited.timedOut === true)
      if (waited.outcome) return waited.outcome
      return loadWithSoftTimeout(c, loader, {
        fence: waited.fence,
        token: waited.holding ? token : null,
        stale: waited.stale ?? stale,
        startedAt: waited.startedAt ?? plan.startedAt,
      })
    }
    case 'load':
      return loadWithSoftTimeout(c, loader, { ...plan, stale: decision.fallback ? { value: entry?.value } : undefined })
  }
}

/**
 * Rejects this caller when its signal aborts; the shared flight carries on for the others. A signal that aborted
 * already (while a batch's first read was on its way) rejects at once: its abort event will not fire again.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
