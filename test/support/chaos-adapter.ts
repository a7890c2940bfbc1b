import type { CacheAdapter } from '../../src/index.js'

/** What every call does: reach the backend, fail at once, or never answer. */
export type ChaosMode = 'ok' | 'throw' | 'hang'

/** Operations of the adapter port that reach a backend. */
export type ChaosOperation =
  | 'read'
  | 'write'
  | 'extend'
  | 'release'
  | 'invalidate'
  | 'invalidateMatching'
  | 'readTags'
  | 'invalidateTags'
  | 'ping'

export interface Chaos {
  /** The wrapper to hand to `createCacheClient`. */
  readonly adapter: CacheAdapter
  /** Applies to calls made from now on. */
  mode: ChaosMode
  /** Delay before each call made from now on reaches the backend (or fails). */
  delayMs: number
  /** Calls so far that reached this wrapper, all operations or one. */
  calls(operation?: ChaosOperation): number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Wraps an adapter to count the calls that reach it and to make them fail or hang on demand: an
 * in-process backend fault, for behaviour that real-process faults cannot pin down (whether a call
 * reached the backend at all).
 */
export function chaosAdapter(inner: CacheAdapter): Chaos {
  const counts = new Map<ChaosOperation, number>()
  const chaos: Chaos = {
    adapter: undefined as unknown as CacheAdapter,
    mode: 'ok',
    delayMs: 0,
    calls: (operation) =>
      operation === undefined ? [...counts.values()].reduce((sum, n) => sum + n, 0) : (counts.get(operation) ?? 0),
  }
  const wrap =
    <A extends unknown[], R>(operation: ChaosOperation, method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      counts.set(operation, (counts.get(operation) ?? 0) + 1)
      const { mode, delayMs } = chaos
      if (delayMs > 0) await sleep(delayMs)
      if (mode === 'throw') throw new Error(`ECONNRESET (chaos: ${operation} failed)`)
      if (mode === 'hang') return new Promise<never>(() => {})
      return method.apply(inner, args)
    }
  const { extend, invalidateMatching, dispose, waitForWrite, subscribe } = inner
  ;(chaos as { adapter: CacheAdapter }).adapter = {
    name: inner.name,
    read: wrap('read', inner.read),
    write: wrap('write', inner.write),
    release: wrap('release', inner.release),
    invalidate: wrap('invalidate', inner.invalidate),
    readTags: wrap('readTags', inner.readTags),
    invalidateTags: wrap('invalidateTags', inner.invalidateTags),
    ping: wrap('ping', inner.ping),
    ...(extend ? { extend: wrap('extend', extend) } : {}),
    ...(invalidateMatching ? { invalidateMatching: wrap('invalidateMatching', invalidateMatching) } : {}),
    ...(dispose ? { dispose: () => dispose.call(inner) } : {}),
    // Not operations on the backend's data: passed on as they are. (peek and peekTagged are left out on
    // purpose: every read then goes through `read`, which the counts above see.)
    ...(waitForWrite ? { waitForWrite: (key: string, ms: number) => waitForWrite.call(inner, key, ms) } : {}),
    ...(subscribe ? { subscribe: (listener: Parameters<typeof subscribe>[0]) => subscribe.call(inner, listener) } : {}),
  }
  return chaos
}
