/**
 * One loader run: its context (signal, setTtl, setTags, skipCache), hard and soft timeouts, abort on
 * close(), the schema, the error back-off, and handing the value to the write path.
 * @module
 */
import type { Fence } from './adapters/adapter.js'
import type { Call, Core, Loader, LoaderContext, Outcome } from './core.js'
import { parseDuration } from './duration.js'
import { CacheLoadTimeoutError, CacheOptionsError, CacheSchemaError } from './errors.js'
import { isTagList } from './keys.js'
import { keepLock, releaseQuietly } from './lock.js'
import { validate } from './standard-schema.js'
import type { TagStamps } from './tags.js'
import { now } from './telemetry.js'
import { storeLoaded } from './write.js'

/** Most keys remembered for `errorBackoff` at once; the oldest are forgotten first. */
const MAX_BACKOFF_KEYS = 10_000

/** How a load runs and stores. */
export interface LoadPlan {
  /** What the write is fenced on (see {@link Fence}); `null` means do not write. */
  fence: Fence | null
  /** Lock token held, to extend during the load and release when nothing is written. */
  token: string | null
  stale: { value: unknown } | undefined
  /** Backend time of the read that decided to load: tag invalidations at or after it win. */
  startedAt: number
  /** Stamps of the call's tags read beside the entry, when they were. */
  known?: TagStamps | undefined
}

/** Calls the loader without reading or writing the backend (caching off, ttl 0, or the read failed). */
export function loadOnly<T>(c: Call, loader: Loader<T>): Promise<Outcome> {
  return load(c, loader, { fence: null, token: null, stale: undefined, startedAt: 0 })
}

/** What the loader chose through its context. */
interface Choices {
  ttl: number
  tags: readonly string[]
  skip: boolean
}

function contextFor<T>(c: Call, plan: LoadPlan, signal: () => AbortSignal, choices: Choices): LoaderContext<T> {
  return {
    key: c.key,
    get signal() {
      return signal()
    },
    stale: plan.stale?.value as T | undefined,
    setTtl(value) {
      const ms = parseDuration(value)
      if (ms === undefined) {
        throw new CacheOptionsError([{ path: 'ctx.setTtl', message: `expected a duration, got ${String(value)}` }])
      }
      choices.ttl = ms
    },
    setTags(value) {
      if (!isTagList(value)) {
        throw new CacheOptionsError([
          {
            path: 'ctx.setTags',
            message: 'expected an array of non-empty strings (at most 256 characters, no lone surrogate)',
          },
        ])
      }
      choices.tags = value
    },
    skipCache() {
      choices.skip = true
    },
  }
}

/** Calls the loader once and stores its value (fenced), falling back to stale on a loader error. */
export async function load<T>(c: Call, loader: Loader<T>, plan: LoadPlan): Promise<Outcome> {
  const { core, call } = c
  const { policy } = call
  // Closed while this call's read was on its way: the loader is not called and nothing is written after close().
  if (core.lifetime.signal.aborted) {
    releaseQuietly(c, plan.token)
    if (plan.stale) return { value: plan.stale.value, kind: 'stale' }
    throw core.lifetime.signal.reason
  }
  const choices: Choices = { ttl: policy.ttl, tags: call.tags, skip: false }
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
  // One promise settled by whichever comes first, the loader or stop(): no race of two promises per load.
  let stopped: ((reason: unknown) => void) | undefined
  let stoppedEarly: { reason: unknown } | undefined
  const stop = (reason: unknown) => {
    abort?.abort(reason)
    if (stopped) stopped(reason)
    else stoppedEarly = { reason }
  }
  core.loads.add(stop)
  const ctx = contextFor<T>(c, plan, () => controller().signal, choices)

  // Only a load that will be stored closes its flight: a pass-through has nothing to protect.
  if (plan.fence !== null) c.seal?.()
  const site = { key: c.key, namespace: c.scope.namespace, category: call.category }
  const started = core.clock.now()
  const elapsedFrom = now()
  core.telemetry.loadStarted(site)
  const heartbeat = plan.token ? keepLock(c, plan.token) : undefined
  let value: T
  try {
    value = await new Promise<T>((resolve, reject) => {
      // A listener of the load's start event may have closed the client already.
      if (stoppedEarly) return reject(stoppedEarly.reason)
      stopped = reject
      withHardTimeout(c, controller, () => loader(ctx)).then(resolve, reject)
    })
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

  // What the loader returned is what is stored: the schema's input. A hit runs the schema on it again,
  // so a transforming schema gives a hit what it gave the miss, instead of transforming its own output.
  const loaded: unknown = value
  if (call.schema) {
    const checked = await validate(call.schema, value)
    if (!checked.ok) {
      core.telemetry.loadRejected(site)
      releaseQuietly(c, plan.token)
      throw new CacheSchemaError(c.key, checked.issues)
    }
    value = checked.value as T
  }

  // No local check of how long this took: the write itself is refused on the backend clock once the
  // fence window has passed since its read, however the time was spent (loader, schema, transit).
  const { fence } = plan
  if (loaded === undefined || value === undefined || choices.skip || choices.ttl === 0 || fence === null) {
    releaseQuietly(c, plan.token)
    return { value, kind: 'miss' }
  }
  await storeLoaded(c, loaded, {
    ...choices,
    loadMs,
    startedAt: plan.startedAt,
    loadBegan: elapsedFrom,
    fence,
    token: plan.token,
    known: plan.known,
  })
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
    // Never what keeps a process alive: close() ends the load at once, while a loader that ignores its signal may
    // never settle and so never clear this timer.
    ;(timer as { unref?: () => void }).unref?.()
  })
  try {
    return await Promise.race([Promise.resolve().then(run), expired])
  } finally {
    clearTimeout(timer)
  }
}

/** A failed load answered stale: leave the loader alone for `errorBackoff` (per key, per process). */
function rememberFailure(core: Core, full: string, backoff: number) {
  if (backoff <= 0) return
  if (core.backoff.size >= MAX_BACKOFF_KEYS) {
    const oldest = core.backoff.keys().next()
    if (!oldest.done) core.backoff.delete(oldest.value)
  }
  core.backoff.set(full, core.clock.now() + backoff)
}

/** Whether the loader of `full` failed a moment ago and was answered stale (still inside `errorBackoff`). */
export function backingOff(core: Core, full: string): boolean {
  return (core.backoff.get(full) ?? 0) > core.clock.now()
}
