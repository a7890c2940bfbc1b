import { canPeekBatch, type Member, peekFresh, resolveBatch } from './batch-resolve.js'
import { resolveCallOptions } from './call-options.js'
import {
  type Call,
  type Core,
  countServed,
  fullKey,
  type Outcome,
  reportBackendError,
  type Scope,
  track,
} from './core.js'
import { CacheOptionsError } from './errors.js'
import { abortable, resolveFlight } from './get-or-set.js'
import { assertKeyList } from './keys.js'
import { loadOnly } from './load.js'
import { LoadGroup, type LoadMany } from './load-many.js'
import type { GetOrSetOptions } from './options.js'
import { freshHit, NO_HIT } from './read.js'
import { now } from './telemetry.js'

/** One key of a batch, answered at once (the in-process tier) or by its flight. */
type Answer = { value: unknown } | { flight: Promise<Outcome>; joined: boolean; c: Call }

/**
 * `getOrSetMany` of a client: validates the call (before any backend work), answers what the in-process tier
 * can, runs the rest as one batch, and counts one hit, stale hit or miss per distinct key. Throws synchronously
 * on bad input; the client turns that into a rejection.
 */
export function getOrSetMany<T>(
  core: Core,
  scope: Scope,
  enabled: boolean,
  keys: readonly string[],
  loadMany: LoadMany<T>,
  options: GetOrSetOptions<T> | undefined,
): Promise<(T | undefined)[]> {
  assertKeyList(keys, core.maxBatchKeys)
  if (typeof loadMany !== 'function') {
    throw new CacheOptionsError([{ path: 'loadMany', message: `expected a function, got ${typeof loadMany}` }])
  }
  const startedAt = now()
  const call = resolveCallOptions('getOrSetMany', scope.policy, options)
  if (call.signal?.aborted) {
    // Its arguments were accepted; it got no value: a miss per key, as a batch aborted a moment later.
    for (const key of new Set(keys)) core.telemetry.served(key, scope.namespace, call.category, 'miss', startedAt)
    throw call.signal.reason
  }
  const cached = enabled && call.policy.ttl > 0
  const l1 = cached && scope.l1 !== false ? core.l1 : undefined
  l1?.listen()
  const answers = new Map<string, Answer>()
  const rest: Call[] = []
  const staleInTier: Call[] = []
  for (const key of keys) {
    if (answers.has(key)) continue
    const c: Call = { core, scope, key, full: fullKey(scope, key), call }
    if (l1 !== undefined) {
      const entry = l1.get(c.full, startedAt)
      if (entry !== undefined && entry.schema === call.schema) {
        const backendNow = core.backend.at(startedAt, c.full) as number
        if (backendNow < entry.freshUntil) {
          core.telemetry.syncHit(key, scope.namespace, call.category, startedAt, 'l1')
          answers.set(key, { value: entry.value })
          continue
        }
        if (backendNow < entry.staleUntil) {
          core.telemetry.served(key, scope.namespace, call.category, 'stale', startedAt, 'l1')
          answers.set(key, { value: entry.value })
          staleInTier.push(c)
          continue
        }
      }
    }
    if (core.backend.freshSync !== undefined && cached && call.policy.earlyRefresh === 0) {
      const value = freshHit(c)
      if (value !== NO_HIT) {
        core.telemetry.syncHit(key, scope.namespace, call.category, startedAt, 'l2')
        answers.set(key, { value })
        continue
      }
    }
    rest.push(c)
  }
  if (staleInTier.length > 0) refreshFromTier(staleInTier, loadMany as LoadMany<unknown>)
  const run = (calls: readonly Call[], store = cached) => {
    const flights = runFlights(calls, loadMany as LoadMany<unknown>, store)
    calls.forEach((c, i) => {
      answers.set(c.key, { ...(flights[i] as { flight: Promise<Outcome>; joined: boolean }), c })
    })
    return collect(keys, answers, startedAt, call.signal) as Promise<(T | undefined)[]>
  }
  if (!cached || !canPeekBatch(rest)) return run(rest)
  // Keys found fresh a moment ago: one plain MGET, outside the flights (a hit loads nothing, so there is nothing to
  // share); only the keys it cannot answer run in flights.
  for (const c of rest) c.ticket = core.l1?.ticket()
  const { signal } = call
  // The caller may abort while the read is on its way: it is answered at once (each key a miss), and the read goes on
  // for the other callers of its keys, whose loads then run as they would have (a flight outlives its callers).
  let abandoned = false
  let reading = true
  const answered = peekFresh(rest).then(
    (found) => {
      reading = false
      const left: Call[] = []
      rest.forEach((c, i) => {
        const hit = found[i]
        if (hit === undefined) {
          left.push(c)
          return
        }
        if (abandoned) return
        core.telemetry.served(c.key, scope.namespace, call.category, 'hit', startedAt)
        answers.set(c.key, { value: hit.value })
      })
      if (!abandoned) return run(left)
      const flights = runFlights(left, loadMany as LoadMany<unknown>, true)
      track(core, Promise.allSettled(flights.map((f) => f.flight)))
      return []
    },
    (error: unknown) => {
      reading = false
      // Reads degrade: counted and reported, and answered by one loadMany call for every key, stored nowhere (as
      // getOrSet answers its loader at once): the full read would wait for a backend that just failed as long again.
      reportBackendError(core, scope, 'read', undefined, error)
      for (const c of rest) core.present.delete(c.full)
      if (abandoned) return []
      return run(rest, false)
    },
  ) as Promise<(T | undefined)[]>
  if (!signal) return answered
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      // Once the read has answered, the flights' wait (collect) handles an abort.
      if (!reading) return
      abandoned = true
      for (const c of rest) countServed(c, 'miss', startedAt)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    answered.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * Runs or joins each key's flight. Keys whose flight starts now form one batch; a key queued behind an earlier
 * flight of it runs alone when that one settles (usually a hit on what it stored).
 */
function runFlights(cs: readonly Call[], loadMany: LoadMany<unknown>, cached: boolean) {
  const batch: Member[] = []
  let collecting = true
  const flights = cs.map((c) =>
    c.core.flight.run(
      c.full,
      () => {
        if (!collecting) {
          const alone = new LoadGroup(loadMany, 1).loaderFor(c.key)
          return cached ? resolveFlight(c, alone) : loadOnly(c, alone)
        }
        const m = member(c)
        batch.push(m)
        return m.promise
      },
      cached ? 'this-tick' : 'while-running',
    ),
  )
  collecting = false
  if (batch.length > 0) {
    resolveBatch(batch, loadMany, cached).catch((error: unknown) => {
      // Never expected; a member left pending would hang its callers, so fail those not yet settled.
      for (const m of batch) m.reject(error)
    })
  }
  return flights.map(({ promise, joined }) => ({ flight: promise, joined }))
}

function member(c: Call): Member {
  let resolve!: (outcome: Outcome) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<Outcome>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { c, promise, resolve, reject }
}

/** Waits for every key, counts each once, and resolves the values in the order of `keys` (or the first error). */
function collect(
  keys: readonly string[],
  answers: Map<string, Answer>,
  startedAt: number,
  signal: AbortSignal | undefined,
): Promise<unknown[]> {
  const pending: Extract<Answer, { flight: unknown }>[] = []
  for (const answer of answers.values()) if ('flight' in answer) pending.push(answer)
  // Every key answered already (the tier, the cheap batch hit): no flight to wait for, so not even a tick.
  if (pending.length === 0) return Promise.resolve(keys.map((key) => (answers.get(key) as { value: unknown }).value))
  const all = Promise.allSettled(pending.map((a) => a.flight))
  // Aborted while keys were pending: each of them counts a miss, as a getOrSet call aborted so does (the others were
  // counted when answered). `allSettled` itself never rejects, so only the abort ends up here.
  const aborted = (error: unknown): never => {
    for (const a of pending) countServed(a.c, 'miss', startedAt)
    throw error
  }
  return (signal ? abortable(all, signal).catch(aborted) : all).then((settled) => {
    let failure: { error: unknown } | undefined
    const loaded = new Map<string, unknown>()
    pending.forEach((a, i) => {
      const result = settled[i] as PromiseSettledResult<Outcome>
      if (result.status === 'rejected') {
        // Every key counts one of hit, stale hit or miss: a key that got no value was a miss.
        countServed(a.c, 'miss', startedAt)
        failure ??= { error: result.reason }
        return
      }
      const outcome = result.value
      countServed(a.c, a.joined && outcome.kind === 'miss' ? 'miss' : outcome.kind, startedAt)
      loaded.set(a.c.key, outcome.value)
    })
    if (failure) throw failure.error
    return keys.map((key) => {
      const answer = answers.get(key) as Answer
      return 'value' in answer ? answer.value : loaded.get(key)
    })
  })
}

/**
 * Stale values were served from the in-process tier: refresh those keys as one background batch (one per key in
 * this process; across processes the lock allows one).
 */
function refreshFromTier(cs: readonly Call[], loadMany: LoadMany<unknown>): void {
  const core = (cs[0] as Call).core
  const due = cs.filter((c) => !core.refreshing.has(c.full))
  if (due.length === 0) return
  for (const c of due) core.refreshing.add(c.full)
  const flights = runFlights(due, loadMany, true)
  const task = Promise.allSettled(flights.map((f) => f.flight)).finally(() => {
    for (const c of due) core.refreshing.delete(c.full)
  })
  track(core, task)
}
