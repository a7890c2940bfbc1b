/**
 * What every section of the contract suite shares: the runner's functions, the adapter under test, a client
 * factory that closes what it made, unique namespaces, and small helpers that need no test library.
 * @module
 */
import type { CacheAdapter, CacheClient, CacheClientOptions } from '../index.js'
import { createCacheClient } from '../index.js'
import type { Expect } from './expect.js'

/**
 * The test runner's functions, passed in so the suite imports none: vitest's, jest's or bun:test's globals as they
 * are; for node:test, `{ describe, it, expect: expectFromAssert(assert), afterAll: after }`.
 */
export interface ContractRunner {
  /** Groups cases; called with a name and a body that registers them. */
  describe(name: string, body: () => void): unknown
  /** Registers one case; its body returns a promise. */
  it(name: string, body: () => Promise<void>): unknown
  /** The assertions; `Matchers` lists the subset the suite uses. */
  expect: Expect
  /**
   * Runs once after the suite's cases: the suite closes the clients it made and calls `cleanup`. Without it they
   * stay open (harmless over the memory adapter; a Redis connection would keep the process alive).
   */
  afterAll?(hook: () => Promise<void>): unknown
}

/** Options of {@link adapterContract}. */
export interface AdapterContractOptions {
  /**
   * The suite is named `contract: <name>`.
   * @default 'adapter'
   */
  name?: string
  /**
   * A second adapter on the same backend, independent of the first (its own connection): another process, as far
   * as the cache can tell. Cases about two processes use it.
   * @default makeAdapter
   */
  makePeer?: () => CacheAdapter
  /** Writes a raw string at a full key (`<namespace>:<key>`), to plant foreign or corrupted data. Cases using it are registered only when given. */
  writeRaw?(fullKey: string, value: string): Promise<void>
  /** Deletes a full key behind the cache's back (an eviction, FLUSHALL). Cases using it are registered only when given. */
  deleteRaw?(fullKey: string): Promise<void>
  /** The remaining backend expiry of a full key in ms (-2 when absent). Cases using it are registered only when given. */
  pttl?(fullKey: string): Promise<number>
  /** Runs after the suite (through the runner's `afterAll`), e.g. to close the connections `makeAdapter` opened. */
  cleanup?(): Promise<void> | void
  /** Registers cases of your own inside the suite's `describe`. */
  additionalTests?(): void
  /**
   * What the backend reproduces faithfully; every field defaults to true. Cases a backend cannot reproduce are not
   * registered for it (rather than registered and skipped).
   */
  faithful?: {
    /** Millisecond time windows and the ordering of tag stamps; false for a store whose clock is coarse. */
    timeWindows?: boolean
    /** Backslash escapes in glob patterns. */
    globEscapes?: boolean
    /**
     * A lock taken on an absent key leaves a marker a scan can find; false for a lock kept outside the key (as
     * `cacheward/redlock` keeps it).
     */
    markerOnAbsentKeys?: boolean
  }
  /** Client options every case starts from, e.g. a longer `timeout` for a slow backend. */
  clientOptions?: CacheClientOptions
}

/** A test body. */
export type Body = () => Promise<void>

/** Registers a case, or (for a case the backend cannot reproduce) nothing. */
export type Register = (name: string, body: Body) => void

/** The state one section of the suite works with. */
export interface Suite {
  readonly describe: (name: string, body: () => void) => void
  readonly it: Register
  /** Cases timing millisecond windows or ordering tag stamps. */
  readonly timed: Register
  /** Cases relying on backslash escapes in globs. */
  readonly globbed: Register
  /** Cases relying on a marker left by a lock on an absent key. */
  readonly marked: Register
  readonly expect: Expect
  readonly options: AdapterContractOptions
  readonly makeAdapter: () => CacheAdapter
  readonly makePeer: () => CacheAdapter
  /** A fresh namespace nobody else uses. */
  ns(): string
  /** A client on a fresh namespace over a fresh adapter (unless given), closed after the suite. */
  make(options?: CacheClientOptions, adapter?: CacheAdapter): CacheClient
  /** Closes `client` after the suite too. */
  track(client: CacheClient): CacheClient
}

/** A value of about 1 kB, as rows from a database look. */
export const json1k = {
  id: 7,
  title: 'Room',
  members: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `user-${i}` })),
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Retries `check` until it passes or `ms` run out. For what another process sees after a change: with the
 * in-process tier (`l1`) it drops the key when the change's announcement reaches it, one hop after the call that
 * made it resolved (without the tier, at once).
 */
export async function eventually(check: () => Promise<void>, ms = 500): Promise<void> {
  const deadline = performance.now() + ms
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (performance.now() > deadline) throw error
      await sleep(5)
    }
  }
}

/** A promise the test resolves by hand, to hold a loader mid-flight. */
export function gate<T = void>() {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** What `promise` rejected with; throws when it resolves instead (any runner reports a thrown error). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    const value = await promise
    throw Object.assign(new Error(`expected a rejection, got a value: ${String(value)}`), { unexpected: true })
  } catch (error) {
    if ((error as { unexpected?: boolean }).unexpected) throw error
    return error as Error & { code?: string }
  }
}

/** What `fn` threw; throws when it returns instead. */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('expected the call to throw, it returned')
}

/** Unique namespaces for one suite: `cw3fa9c01b:1`, `cw3fa9c01b:2`, … (the random part keeps reruns apart). */
export function namespaces(prefix = 'cw'): () => string {
  const bytes = crypto.getRandomValues(new Uint8Array(4))
  const run = `${prefix}${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`
  let counter = 0
  return () => `${run}:${++counter}`
}

/** Builds the shared state and registers the closing hook. */
export function createSuite(
  makeAdapter: () => CacheAdapter,
  runner: ContractRunner,
  options: AdapterContractOptions,
): Suite {
  const notRegistered: Register = () => {}
  const it: Register = (name, body) => {
    runner.it(name, async () => {
      // node:test ends a case whose promise is still pending once nothing holds the event loop. The client's timeout
      // timers do not hold it (a real backend's socket does), so a case waiting out a timeout over an adapter that
      // never answers would end unfinished; a timer held for the case's duration keeps it running, in any runner.
      const hold = setInterval(() => {}, 60_000)
      try {
        await body()
      } finally {
        clearInterval(hold)
      }
    })
  }
  const faithful = options.faithful ?? {}
  const ns = namespaces()
  const clients: CacheClient[] = []
  const track = (client: CacheClient) => {
    clients.push(client)
    return client
  }
  runner.afterAll?.(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await options.cleanup?.()
  })
  return {
    describe: (name, body) => {
      runner.describe(name, body)
    },
    it,
    timed: faithful.timeWindows === false ? notRegistered : it,
    globbed: faithful.globEscapes === false ? notRegistered : it,
    marked: faithful.markerOnAbsentKeys === false ? notRegistered : it,
    expect: runner.expect,
    options,
    makeAdapter,
    makePeer: options.makePeer ?? makeAdapter,
    ns,
    make: (clientOptions = {}, adapter = makeAdapter()) =>
      track(createCacheClient({ adapter, namespace: ns(), ...options.clientOptions, ...clientOptions })),
    track,
  }
}
