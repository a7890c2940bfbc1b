/**
 * The stampede lock: how a read asks for it, how a caller waits on another's, how a holder keeps it
 * while loading and lets it go. The lock lives in the entry's own key (one key per script, never
 * cross-slot) and is for efficiency only: correctness rests on the write-time fence.
 * @module
 */
import type { Fence, LockRequest, ReadReply } from './adapters/adapter.js'
import { type Call, type Core, FENCE_WINDOW_MS, type Outcome, reportBackendError, track } from './core.js'
import { watchDeadline } from './deadline.js'
import { CacheCircuitOpenError } from './errors.js'
import { classify } from './freshness.js'
import { fillTier, usableEntry } from './read.js'
import { noteStamps, stampsOf, tagReadOf } from './tags.js'

/** What a read asks of the lock: take it when the slot is not fresh (`force`: even when it is). */
export function lockRequest(core: Core, token: string, force = false): LockRequest {
  return { token, ttl: core.lockTtl, keep: FENCE_WINDOW_MS, ...(force ? { force } : {}) }
}

/** The fence of a write that follows this read: the generation it found and when; none for an absent key. */
export function fenceOf(reply: ReadReply): Fence | null {
  return reply.slot ? { gen: reply.slot.gen, readAt: reply.now, window: FENCE_WINDOW_MS } : null
}

/** How waiting on another caller's lock ended. */
export interface Waited {
  /** The holder's value landed (a miss for this caller), or the stale value at `softTimeout`. */
  outcome?: Outcome
  /** What a load started now would fence its write on. */
  fence: Fence | null
  /** This caller took the lock (it was freed). */
  holding: boolean
  stale?: { value: unknown }
  /** Backend time of the last read, on the tag clock where tags were read: a load started now began then. */
  startedAt?: number
  /** The wait ran out (lockWait, or softTimeout with a stale value) before the value landed or the lock freed. */
  timedOut?: boolean
}

/**
 * Another process holds the lock: poll with jittered back-off until its value lands, the lock is
 * free (then take it), or `lockWait` runs out (then load without it; the fence still guards the
 * write). With a stale value and `softTimeout`, waiting ends at the soft timeout with the stale value.
 */
export async function waitForHolder(c: Call, token: string, stale: { value: unknown } | undefined): Promise<Waited> {
  const { core } = c
  const tagRead = tagReadOf(c)
  const soft = c.call.policy.softTimeout
  const deadline = core.clock.now() + (stale && soft > 0 ? Math.min(soft, core.lockWait) : core.lockWait)
  let delay = 5
  let fence: Fence | null = null
  let seenAt: number | undefined
  while (core.clock.now() < deadline && !core.lifetime.signal.aborted) {
    const pause = Math.min(delay, Math.max(1, deadline - core.clock.now())) * (0.75 + Math.random() * 0.5)
    // Woken as soon as the holder's write or release is announced, where the adapter can; else a poll.
    await core.backend.waitForWrite(c.full, pause)
    delay = Math.min(delay * 2, 50)
    let reply: ReadReply
    try {
      reply = await core.backend.read(c.full, lockRequest(core, token), tagRead)
    } catch (error) {
      reportBackendError(core, c.scope, 'read', c.key, error)
      forgetLock(c, token, error)
      return { fence: null, holding: false }
    }
    noteStamps(c, reply)
    let found = await usableEntry(c, reply.slot, stampsOf(c.call.tags, reply))
    // A forced re-read has no tags: the load still counts from this read's tag clock, which came first.
    const tagClock = reply.tagNow
    if (found === 'invalidated' && reply.lock === 'none') {
      // Fresh to the backend, invalidated by a tag: the script took no lock, so ask for it outright.
      try {
        reply = await core.backend.read(c.full, lockRequest(core, token, true))
      } catch (error) {
        reportBackendError(core, c.scope, 'read', c.key, error)
        forgetLock(c, token, error)
        return { fence: null, holding: false }
      }
      found = await usableEntry(c, reply.slot)
    }
    fence = fenceOf(reply)
    seenAt = tagClock ?? reply.now
    const entry = found === 'invalidated' ? undefined : found
    const state = entry && reply.slot ? classify(reply.slot, reply.now) : 'expired'
    if (entry && reply.slot && state === 'fresh') {
      if (reply.lock === 'acquired') releaseQuietly(c, token)
      fillTier(c, reply.slot, entry)
      return { outcome: { value: entry.value, kind: 'miss' }, fence, holding: false }
    }
    const nowStale = entry && state !== 'expired' ? { value: entry.value } : stale
    if (reply.lock === 'acquired')
      return { fence, holding: true, startedAt: seenAt, ...(nowStale ? { stale: nowStale } : {}) }
  }
  const timedOut = !core.lifetime.signal.aborted
  if (stale && soft > 0) return { outcome: { value: stale.value, kind: 'stale' }, fence, holding: false, timedOut }
  return {
    fence,
    holding: false,
    timedOut,
    ...(seenAt === undefined ? {} : { startedAt: seenAt }),
    ...(stale ? { stale } : {}),
  }
}

/**
 * Extends the lock every half `lockTtl` while a load runs, so a slow load keeps other processes
 * waiting rather than loading. Armed on the shared deadline buckets, not a timer per load; returns
 * the function that stops it.
 */
export function keepLock(c: Call, token: string): (() => void) | undefined {
  const { core } = c
  if (!core.backend.canExtend) return undefined
  let cancel: (() => void) | undefined
  const arm = () => {
    cancel = watchDeadline(Math.max(10, core.lockTtl / 2), () => {
      core.backend.extend(c.full, token, core.lockTtl).catch((error) => {
        reportBackendError(core, c.scope, 'extend', c.key, error)
      })
      arm()
    })
  }
  arm()
  return () => cancel?.()
}

/** Releases a lock without making the caller wait; a failure is counted (the lock then expires by its TTL). */
export function releaseQuietly(c: Call, token: string | null) {
  if (token === null) return
  const task = c.core.backend.release(c.full, token).catch((error) => {
    reportBackendError(c.core, c.scope, 'release', c.key, error)
  })
  track(c.core, task, false)
}

/**
 * A read that timed out may still run later (clients replay queued commands after a reconnect) and
 * take the lock for a caller that has moved on. The release, sent on the same connection (even while
 * the breaker is open), runs after it. Its own failure is neither reported nor counted by the breaker:
 * the read's failure already was. A read the open breaker skipped was never sent: nothing to release.
 */
export function forgetLock(c: Call, token: string, error: unknown) {
  if (error instanceof CacheCircuitOpenError) return
  track(
    c.core,
    c.core.backend.release(c.full, token, true).catch(() => {}),
    false,
  )
}
