/**
 * An adapter wrapper that injects backend faults on demand: latency, errors, hangs, and replies lost after the
 * backend did the work.
 * @module
 */
import type { CacheAdapter } from '../index.js'

/** The adapter operations that reach a backend, each of which can be given its own faults. */
export type ChaosOperation =
  | 'read'
  | 'peek'
  | 'peekTagged'
  | 'write'
  | 'extend'
  | 'waitForWrite'
  | 'release'
  | 'invalidate'
  | 'invalidateMatching'
  | 'readTags'
  | 'invalidateTags'
  | 'ping'

const operations: readonly ChaosOperation[] = [
  'read',
  'peek',
  'peekTagged',
  'write',
  'extend',
  'waitForWrite',
  'release',
  'invalidate',
  'invalidateMatching',
  'readTags',
  'invalidateTags',
  'ping',
]

/** What happens to a call. Unset fields inject nothing. */
export interface Faults {
  /** Milliseconds each call waits before it reaches the backend (or fails). */
  latency?: number
  /** Share of calls, from 0 to 1, that reject with a `ChaosError` instead of reaching the backend. */
  errorRate?: number
  /**
   * Calls never settle, as over a link that stopped answering. Like a stalled socket, a hung call keeps the process
   * alive (for at most a minute), until `setFaults()` is called again or the adapter is disposed (`close()` of the
   * client), so a runner that stops at an idle event loop (node:test) lets the client's timeout fire.
   */
  hang?: boolean
  /**
   * The call reaches the backend and does its work, then its reply is lost: the caller sees a `ChaosError` (or, with
   * `hang`, nothing ever; with `errorRate`, only that share of calls loses its reply). A write the caller saw fail has
   * landed all the same.
   */
  dropAfterWrite?: boolean
}

/**
 * Faults for every operation, and per operation: `{ latency: 5, write: { dropAfterWrite: true } }`. An operation's
 * own fields override the shared ones.
 */
export type ChaosFaults = Faults & { readonly [O in ChaosOperation]?: Faults }

/** Options of {@link chaosAdapter}. */
export interface ChaosOptions {
  /**
   * The random source `errorRate` draws from, a number in [0, 1). Pass a seeded one for runs that repeat.
   * @default Math.random
   */
  random?: () => number
}

/** The wrapped adapter: use it as any adapter, and steer its faults while the test runs. */
export interface ChaosAdapter extends CacheAdapter {
  /** The faults in force. */
  readonly faults: ChaosFaults
  /** Replaces the faults; calls that start from now on follow them. */
  setFaults(faults: ChaosFaults): void
  /** Calls made through the wrapper so far, of one operation or of all, failed ones included. */
  calls(operation?: ChaosOperation): number
}

/** The error an injected fault rejects with. */
class ChaosError extends Error {
  override readonly name = 'ChaosError'
  constructor(
    readonly operation: ChaosOperation,
    lost: boolean,
  ) {
    super(lost ? `chaos: the reply to ${operation} was lost` : `chaos: ${operation} failed`)
  }
}

const faultKeys = new Set<string>(['latency', 'errorRate', 'hang', 'dropAfterWrite'])

function checkFaults(faults: Faults, where: string): void {
  for (const key of Object.keys(faults)) {
    if (!faultKeys.has(key)) {
      throw new TypeError(
        `[cacheward] chaosAdapter: unknown fault "${where}${key}"; known: ${[...faultKeys].join(', ')}`,
      )
    }
  }
  const { latency, errorRate } = faults
  if (latency !== undefined && !(Number.isFinite(latency) && latency >= 0)) {
    throw new RangeError(`[cacheward] chaosAdapter: "${where}latency" must be milliseconds ≥ 0, got ${latency}`)
  }
  if (errorRate !== undefined && !(errorRate >= 0 && errorRate <= 1)) {
    throw new RangeError(`[cacheward] chaosAdapter: "${where}errorRate" must be from 0 to 1, got ${errorRate}`)
  }
}

function checkPlan(plan: ChaosFaults): ChaosFaults {
  if (typeof plan !== 'object' || plan === null)
    throw new TypeError('[cacheward] chaosAdapter: faults must be an object')
  const shared: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(plan)) {
    if ((operations as readonly string[]).includes(key)) checkFaults(value as Faults, `${key}.`)
    else shared[key] = value
  }
  checkFaults(shared, '')
  return plan
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** How long a hung call keeps the process alive at most: long past any sensible timeout, short of a stuck CI job. */
const HOLD_MS = 60_000

/**
 * Wraps an adapter so a test can make its backend slow, failing or silent, per operation and at run time, and count
 * the calls that reach it. The adapter itself is untouched; optional methods it lacks stay absent (`dispose` is always
 * there: it also lets go of hung calls).
 * @example
 * const backend = chaosAdapter(memoryAdapter(), { latency: 5 })
 * const cache = createCacheClient({ adapter: backend, timeout: 100 })
 * backend.setFaults({ read: { hang: true } }) // reads never answer: getOrSet answers from the loader after 100 ms
 * backend.calls('read') // how many reads were tried
 */
export function chaosAdapter(
  adapter: CacheAdapter,
  faults: ChaosFaults = {},
  options: ChaosOptions = {},
): ChaosAdapter {
  const random = options.random ?? Math.random
  const counts = new Map<ChaosOperation, number>()
  let plan = checkPlan(faults)
  const holds = new Set<ReturnType<typeof setTimeout>>()
  const letGo = () => {
    for (const hold of holds) clearTimeout(hold)
    holds.clear()
  }
  const hung = () => {
    const hold = setTimeout(() => holds.delete(hold), HOLD_MS)
    holds.add(hold)
    return new Promise<never>(() => {})
  }

  const wrap =
    <A extends unknown[], R>(operation: ChaosOperation, method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      counts.set(operation, (counts.get(operation) ?? 0) + 1)
      // Read once, when the call starts: a call already waiting out its latency keeps the faults it began with.
      const { latency, errorRate, hang, dropAfterWrite } = { ...plan, ...plan[operation] }
      if (latency) await sleep(latency)
      const failure = hang
        ? 'hang'
        : errorRate !== undefined
          ? errorRate > 0 && random() < errorRate
            ? 'error'
            : undefined
          : dropAfterWrite
            ? 'error'
            : undefined
      if (failure && dropAfterWrite) await method.apply(adapter, args)
      if (failure === 'hang') return hung()
      if (failure === 'error') throw new ChaosError(operation, dropAfterWrite === true)
      return method.apply(adapter, args)
    }

  const optional = (operation: ChaosOperation) => {
    const method = adapter[operation] as ((...args: unknown[]) => Promise<unknown>) | undefined
    return method ? { [operation]: wrap(operation, method) } : {}
  }
  // Members this wrapper does not know (a port member added after it was written) pass through untouched, so
  // wrapping never takes a capability away from the adapter. Except an in-process store's synchronous reads: they
  // would answer hits past every fault, and without them each read goes through `read`, where faults apply.
  const passed = Object.entries(adapter).filter(
    ([key]) =>
      key !== 'name' && key !== 'freshSync' && key !== 'stampsSync' && !operations.includes(key as ChaosOperation),
  )
  const { dispose } = adapter
  return {
    ...Object.fromEntries(
      passed.map(([key, value]) => [key, typeof value === 'function' ? value.bind(adapter) : value]),
    ),
    name: adapter.name,
    read: wrap('read', adapter.read),
    write: wrap('write', adapter.write),
    release: wrap('release', adapter.release),
    invalidate: wrap('invalidate', adapter.invalidate),
    readTags: wrap('readTags', adapter.readTags),
    invalidateTags: wrap('invalidateTags', adapter.invalidateTags),
    ping: wrap('ping', adapter.ping),
    ...optional('peek'),
    ...optional('peekTagged'),
    ...optional('extend'),
    ...optional('waitForWrite'),
    ...optional('invalidateMatching'),
    dispose: async () => {
      letGo()
      await dispose?.call(adapter)
    },
    get faults() {
      return plan
    },
    setFaults(next) {
      plan = checkPlan(next)
      letGo()
    },
    calls: (operation) =>
      operation === undefined ? [...counts.values()].reduce((sum, n) => sum + n, 0) : (counts.get(operation) ?? 0),
  }
}
