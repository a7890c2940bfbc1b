/**
 * One batch of `getOrSetMany` once its flights are running: the read (a plain MGET for keys found fresh a moment ago,
 * else the batched read script that takes the locks), the decision per key that `getOrSet` makes after its read,
 * and one `loadMany` call for the keys this caller must load (another for a background refresh of stale ones).
 * @module
 */
import type { ReadReply } from './adapters/adapter.js'
import { type Call, FENCE_WINDOW_MS, type Loader, type Outcome, reportBackendError, siteOf } from './core.js'
import { classify, decide } from './freshness.js'
import { backingOff, type LoadPlan, loadOnly } from './load.js'
import { LoadGroup, type LoadMany } from './load-many.js'
import { fenceOf, forgetLock, lockRequest, releaseQuietly, waitForHolder } from './lock.js'
import { fillTier, markPresent, type Usable, usableEntry } from './read.js'
import { loadWithSoftTimeout, maybeRefreshEarly, refreshInBackground } from './refresh.js'
import { noteStamps, stampsOf, tagKeys, tagReadOf } from './tags.js'
import { now } from './telemetry.js'
import { randomToken } from './token.js'

/** A key whose flight the batch runs: settled once the batch has decided, read or loaded it. */
export interface Member {
  c: Call
  promise: Promise<Outcome>
  resolve: (outcome: Outcome) => void
  reject: (error: unknown) => void
}

/** What the batch does with one key after its read. */
type Step =
  | { kind: 'done'; outcome: Outcome }
  | { kind: 'load'; plan: LoadPlan }
  | { kind: 'load-only' }
  | { kind: 'refresh'; plan: LoadPlan; value: unknown }
  | { kind: 'wait'; plan: LoadPlan; stale: { value: unknown } | undefined; token: string }

/** Reads every member in one batch, decides per key, and loads the keys this caller must load with one call. */
export async function resolveBatch(
  batch: readonly Member[],
  loadMany: LoadMany<unknown>,
  cached: boolean,
): Promise<void> {
  const members = batch
  const first = (members[0] as Member).c
  const { core } = first
  if (!cached) {
    const group = new LoadGroup(loadMany, members.length)
    for (const m of members) settle(m, loadOnly(m.c, group.loaderFor(m.c.key)))
    return
  }
  const began = now()
  for (const m of members) {
    m.c.ticket = core.l1?.ticket()
    m.c.began = began
  }
  const tokens = members.map(() => randomToken())
  let replies: ReadReply[]
  try {
    replies = await core.backend.readMany(
      members.map((m) => m.c.full),
      { tokens, ttl: core.lockTtl, keep: FENCE_WINDOW_MS },
      tagReadOf(first),
    )
    if (replies.length !== members.length) throw new TypeError('readMany answered a different number of keys')
  } catch (error) {
    // Reads degrade: without a fence nothing is written, but the loader still answers, in one call.
    reportBackendError(core, first.scope, 'read', undefined, error)
    members.forEach((m, i) => {
      forgetLock(m.c, tokens[i] as string, error)
    })
    const group = new LoadGroup(loadMany, members.length)
    for (const m of members) settle(m, loadOnly(m.c, group.loaderFor(m.c.key)))
    return
  }
  const steps = await Promise.all(
    members.map((m, i) => triage(m.c, replies[i] as ReadReply, tokens[i] as string, loadMany)),
  )
  const loading = steps.filter((s) => s.kind === 'load' || s.kind === 'load-only').length
  const refreshing = steps.filter((s) => s.kind === 'refresh').length
  const group = loading > 0 ? new LoadGroup(loadMany, loading) : undefined
  const refresh = refreshing > 0 ? new LoadGroup(loadMany, refreshing) : undefined
  members.forEach((m, i) => {
    const step = steps[i] as Step
    const { c } = m
    switch (step.kind) {
      case 'done':
        m.resolve(step.outcome)
        break
      case 'load':
        settle(m, loadWithSoftTimeout(c, (group as LoadGroup).loaderFor(c.key), step.plan))
        break
      case 'load-only':
        settle(m, loadOnly(c, (group as LoadGroup).loaderFor(c.key)))
        break
      case 'refresh':
        // Stale-while-revalidate: served now, refreshed in the background by one loadMany for every such key.
        refreshInBackground(c, (refresh as LoadGroup).loaderFor(c.key), step.plan, 'stale-while-revalidate')
        m.resolve({ value: step.value, kind: 'stale' })
        break
      case 'wait':
        settle(m, waitThenLoad(c, step, loadMany))
        break
    }
  })
}

/** Whether a batch of these calls may take the cheap hit: every key found fresh a moment ago, the backend can peek. */
export function canPeekBatch(cs: readonly Call[]): boolean {
  const first = cs[0]
  if (first === undefined) return false
  const { core } = first
  return (
    first.call.policy.earlyRefresh === 0 &&
    core.backend.canPeekMany &&
    core.backend.now() !== undefined &&
    cs.every((c) => core.present.has(c.full))
  )
}

/**
 * The cheap hit for a batch whose every key was recently found fresh: one plain MGET of the entries and the call's
 * tag records, each entry judged on the backend clock learned from script replies, as `peekHit` judges one key.
 * Resolves a hit for each fresh, valid entry and `undefined` for the others (they take the batched read script).
 */
export async function peekFresh(cs: readonly Call[]): Promise<(Outcome | undefined)[]> {
  const first = cs[0] as Call
  const { core } = first
  const { tags } = first.call
  const keys = tags.length > 0 ? tagKeys(first, tags) : []
  const reply = await core.backend.peekMany(
    cs.map((c) => c.full),
    keys,
  )
  if (first.ticket !== undefined && keys.length > 0) core.l1?.noteStamps(keys, reply.stamps, first.ticket)
  const found: (Outcome | undefined | Promise<Outcome | undefined>)[] = new Array(cs.length)
  // A missing tag record is never trusted (nor created here): the script read creates it.
  if (reply.stamps.some((stamp) => stamp === null)) return found.fill(undefined) as undefined[]
  const known = tags.length > 0 ? new Map(tags.map((tag, i) => [tag, reply.stamps[i] as number])) : undefined
  const backendNow = core.backend.now() as number
  // Synchronous per key unless a schema (or a tag read) makes the check a promise: a promise per key costs more
  // than the check itself.
  cs.forEach((c, i) => {
    const slot = reply.slots[i]
    if (
      slot === null ||
      slot === undefined ||
      slot === 'garbage' ||
      slot.body === '' ||
      backendNow >= slot.freshUntil
    ) {
      return
    }
    const serve = (entry: Usable): Outcome | undefined => {
      if (!entry || entry === 'invalidated') return undefined
      fillTier(c, slot, entry)
      return { value: entry.value, kind: 'hit' }
    }
    const checked = usableEntry(c, slot, known)
    found[i] = checked instanceof Promise ? checked.then(serve) : serve(checked)
  })
  const out = found.some((f) => f instanceof Promise) ? await Promise.all(found) : (found as (Outcome | undefined)[])
  cs.forEach((c, i) => {
    if (out[i] === undefined) core.present.delete(c.full)
  })
  return out
}

function settle(m: Member, outcome: Promise<Outcome>): void {
  outcome.then(m.resolve, m.reject)
}

/**
 * What `getOrSet` decides after its read, for one key of the batch: serve, refresh, wait, or load. A key found
 * fresh to the backend but invalidated by a tag is read once more on its own to take the lock.
 */
async function triage(c: Call, first: ReadReply, token: string, loadMany: LoadMany<unknown>): Promise<Step> {
  const { core } = c
  const { policy } = c.call
  let reply = first
  let found: Usable
  const known = stampsOf(c.call.tags, reply)
  const tagClock = reply.tagNow
  try {
    if (reply.garbage)
      reportBackendError(core, c.scope, 'read', c.key, new Error('foreign data at key; treated as a miss'))
    noteStamps(c, reply)
    found = await usableEntry(c, reply.slot, known)
    if (found === 'invalidated' && reply.lock === 'none') {
      reply = await core.backend.read(c.full, lockRequest(core, token, true))
      found = await usableEntry(c, reply.slot, known)
    }
  } catch (error) {
    reportBackendError(core, c.scope, 'read', c.key, error)
    forgetLock(c, token, error)
    return { kind: 'load-only' }
  }
  const entry = found === 'invalidated' ? undefined : found
  const decision = decide({
    freshness: entry && reply.slot ? classify(reply.slot, reply.now) : 'expired',
    lock: reply.lock,
    backingOff: backingOff(core, c.full),
  })
  const plan: LoadPlan = {
    fence: fenceOf(reply),
    token: reply.lock === 'acquired' ? token : null,
    stale: undefined,
    startedAt: tagClock ?? reply.now,
    known,
  }
  switch (decision.action) {
    case 'serve':
      if (decision.release) releaseQuietly(c, token)
      markPresent(c)
      if (entry && reply.slot) {
        fillTier(c, reply.slot, entry)
        if (policy.earlyRefresh > 0) {
          const alone: Loader<unknown> = new LoadGroup(loadMany, 1).loaderFor(c.key)
          maybeRefreshEarly(c, alone, entry, reply.slot.freshUntil - reply.now)
        }
      }
      return { kind: 'done', outcome: { value: entry?.value, kind: 'hit' } }
    case 'refresh':
      return { kind: 'refresh', plan: { ...plan, stale: { value: entry?.value } }, value: entry?.value }
    case 'serve-stale':
      if (decision.release) releaseQuietly(c, token)
      return { kind: 'done', outcome: { value: entry?.value, kind: 'stale' } }
    case 'wait':
      return { kind: 'wait', plan, stale: decision.fallback ? { value: entry?.value } : undefined, token }
    case 'load':
      return { kind: 'load', plan: { ...plan, stale: decision.fallback ? { value: entry?.value } : undefined } }
  }
}

/**
 * Another caller holds the key's lock: wait for its value, as `getOrSet` does. Only when the lock was freed
 * without a value (or the wait ran out) does this key load, on its own.
 */
async function waitThenLoad(
  c: Call,
  step: Extract<Step, { kind: 'wait' }>,
  loadMany: LoadMany<unknown>,
): Promise<Outcome> {
  const waited = await waitForHolder(c, step.token, step.stale)
  c.core.telemetry.lockWaited(siteOf(c), waited.timedOut === true)
  if (waited.outcome) return waited.outcome
  return loadWithSoftTimeout(c, new LoadGroup(loadMany, 1).loaderFor(c.key), {
    fence: waited.fence,
    token: waited.holding ? step.token : null,
    stale: waited.stale ?? step.stale,
    startedAt: waited.startedAt ?? step.plan.startedAt,
  })
}
