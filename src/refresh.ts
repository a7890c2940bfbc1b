/**
 * Background refreshes: stale-while-revalidate, soft-timeout continuations and XFetch early refresh.
 * Callers are already served; these store a newer value and emit `refresh` when they do.
 * @module
 */
import { type Call, type Loader, type Outcome, reportBackendError, siteOf, track } from './core.js'
import type { RefreshReason } from './events.js'
import { shouldRefreshEarly } from './freshness.js'
import { type LoadPlan, load } from './load.js'
import { fenceOf, forgetLock, lockRequest } from './lock.js'
import { stampsOf, tagReadOf } from './tags.js'
import { now } from './telemetry.js'
import { randomToken } from './token.js'

/** Emits `refresh` once a background load stored a new value. Never rejects. */
export function refreshed(c: Call, loading: Promise<Outcome>, reason: RefreshReason): Promise<unknown> {
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
 * With a stale value and `softTimeout`, callers get the stale value once the call has taken that long, a wait on
 * another process's lock before the load included; the load carries on in the background and stores its result.
 */
export async function loadWithSoftTimeout<T>(c: Call, loader: Loader<T>, plan: LoadPlan): Promise<Outcome> {
  const soft = c.call.policy.softTimeout
  const loading = load(c, loader, plan)
  if (!plan.stale || soft <= 0) return loading
  const left = c.began === undefined ? soft : soft - (now() - c.began)
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, left))
  })
  const first = await Promise.race([loading, late]).finally(() => clearTimeout(timer))
  if (first !== 'late') return first
  track(c.core, refreshed(c, loading, 'soft-timeout'))
  return { value: plan.stale.value, kind: 'stale' }
}

/** Starts a background load that replaces a stale value (the caller holds the lock). */
export function refreshInBackground<T>(c: Call, loader: Loader<T>, plan: LoadPlan, reason: RefreshReason): void {
  track(c.core, refreshed(c, load(c, loader, plan), reason))
}

/**
 * XFetch: refresh a fresh entry early with probability rising as expiry nears, scaled by how long
 * its last load took, so a hot key is usually refreshed once before it expires instead of stampeding.
 */
export function maybeRefreshEarly<T>(
  c: Call,
  loader: Loader<T>,
  entry: { readonly value: unknown; readonly loadMs: number },
  untilExpiry: number,
): void {
  const { core } = c
  if (core.refreshing.has(c.full)) return
  if (!shouldRefreshEarly(entry.loadMs, c.call.policy.earlyRefresh, untilExpiry, Math.random())) return
  core.refreshing.add(c.full)
  const token = randomToken()
  const task = core.backend
    .read(c.full, lockRequest(core, token, true), tagReadOf(c))
    .then((reply) => {
      // Another process is refreshing it already: nothing to do.
      if (reply.lock !== 'acquired') return
      const plan: LoadPlan = {
        fence: fenceOf(reply),
        token,
        stale: { value: entry.value },
        startedAt: reply.tagNow ?? reply.now,
        known: stampsOf(c.call.tags, reply),
      }
      return refreshed(c, load(c, loader, plan), 'early-refresh')
    })
    .catch((error) => {
      reportBackendError(core, c.scope, 'read', c.key, error)
      forgetLock(c, token, error)
    })
    .finally(() => core.refreshing.delete(c.full))
  track(core, task)
}
