/**
 * The adapter, wrapped once when the client is built: every operation is bounded by `timeout`, goes
 * through the circuit breaker, and fails with a typed, redacted error. It also learns the backend's
 * clock from every reply that carries it. Call sites say `core.backend.read(...)`; none of them thread
 * timeouts or breakers by hand.
 * @module
 */
import type {
  AnnouncementListener,
  CacheAdapter,
  LockRequest,
  LockRequests,
  ReadReply,
  Slot,
  Step,
  TagRead,
  TagReply,
  WriteRequest,
  WriteResult,
} from './adapters/adapter.js'
import { type CircuitBreaker, circuitState } from './circuit.js'
import { watchDeadline } from './deadline.js'
import { CacheCircuitOpenError, CacheTimeoutError } from './errors.js'
import type { CircuitState } from './metrics.js'

/**
 * Servers whose learned clocks differ by less than this are judged on one clock (the last learned), as a
 * single server is: the difference is within what a reply's travel and a busy event loop already blur.
 */
const SKEW_TOLERANCE_MS = 100
/**
 * Most keys one adapter `readMany` is given; a longer batch goes as several calls, one bounded operation all the same.
 * The Redis batch script answers through Lua's `unpack`, which fails near 8,000 values ("too many results to unpack").
 */
const MAX_READ_MANY = 4_000

/** The adapter behind its guards. Methods mirror the port's; optional ones are absent when the adapter lacks them. */
export class Backend {
  /** The adapter's name, for errors and events. */
  readonly name: string
  readonly #adapter: CacheAdapter
  readonly #timeout: number
  readonly #circuit: CircuitBreaker | undefined
  /**
   * Backend clock minus this process's monotonic clock (ms), from the last reply that carried the
   * backend's time; undefined until the first. Taken when the reply arrives, so `now()` never runs
   * ahead of the backend (by more than the two clocks drift apart meanwhile).
   */
  #offset: number | undefined
  /**
   * The same per server, where the adapter names the server of each key (a cluster's masters may disagree on the
   * time by seconds: an entry is judged on the clock of the master holding it, never on another's).
   */
  readonly #offsets = new Map<string, number>()
  readonly #clockOf: ((key: string) => string) | undefined
  readonly #probes = new Map<string, Promise<void>>()
  /** Whether the servers' learned clocks disagree by more than {@link SKEW_TOLERANCE_MS}. */
  #skewed = false

  /** The adapter's synchronous fresh read, when it is an in-process store (see CacheAdapter.freshSync). */
  readonly freshSync: CacheAdapter['freshSync']
  /** The adapter's synchronous tag stamps, when it is an in-process store. */
  readonly stampsSync: CacheAdapter['stampsSync']

  constructor(adapter: CacheAdapter, timeout: number, circuit: CircuitBreaker | undefined) {
    this.name = adapter.name
    this.#adapter = adapter
    // In-process: nothing to bound or break, so straight to the store.
    this.freshSync = adapter.freshSync?.bind(adapter)
    this.stampsSync = adapter.stampsSync?.bind(adapter)
    this.#timeout = timeout
    this.#circuit = circuit
    this.#clockOf = adapter.clockOf?.bind(adapter)
  }

  /** Whether the adapter has a cheap `peek` (and `peekTagged`, for tagged calls). */
  canPeek(tagged: boolean): boolean {
    return tagged ? this.#adapter.peekTagged !== undefined : this.#adapter.peek !== undefined
  }

  /** The breaker's state, as metrics report it. */
  get circuit(): CircuitState {
    return circuitState(this.#circuit)
  }

  /**
   * The backend's current time as far as this process can tell (a lower bound), or undefined before any reply:
   * on the clock of the server holding `key` where the adapter tells servers apart.
   */
  now(key?: string): number | undefined {
    const offset = this.#offsetOf(key)
    return offset === undefined ? undefined : performance.now() + offset
  }

  /** The backend's time at this process's monotonic time `at` (a `performance.now()` already taken), as {@link now}. */
  at(at: number, key?: string): number | undefined {
    const offset = this.#offsetOf(key)
    return offset === undefined ? undefined : at + offset
  }

  /**
   * A load's start on the clock of the server holding `key`, for one that read its start (`startedAt`) from another
   * server: as read while the servers agree, else this process's monotonic `began` (taken before the loader ran, after
   * that read) through the offset learned for `key`'s server, a lower bound of its clock. Undefined before that server
   * was heard from.
   */
  startOn(key: string, startedAt: number, began: number): number | undefined {
    return this.#skewed ? this.at(began, key) : startedAt
  }

  #offsetOf(key: string | undefined): number | undefined {
    // Servers that agree (the usual case) share the last offset learned: an l1 hit then names no server, which
    // would cost more than the hit itself.
    if (!this.#skewed || key === undefined) return this.#offset
    return this.#offsets.get((this.#clockOf as (key: string) => string)(key))
  }

  #learn(backendNow: number, key?: string): void {
    const offset = backendNow - performance.now()
    this.#offset = offset
    if (this.#clockOf === undefined || key === undefined) return
    this.#offsets.set(this.#clockOf(key), offset)
    let low = offset
    let high = offset
    for (const known of this.#offsets.values()) {
      if (known < low) low = known
      else if (known > high) high = known
    }
    this.#skewed = high - low > SKEW_TOLERANCE_MS
  }

  /**
   * Runs one backend operation within `timeout` (else `CacheTimeoutError`). The breaker, by `mode`:
   * `counted` operations are skipped while it is open and move it; `uncounted` ones ignore it: health's
   * ping, and clean-up after a failure already counted, which must be sent even while the breaker is open
   * (a release after a read that timed out: the server may still run that read and take the lock).
   */
  #run<T>(
    operation: string,
    work: () => Promise<T>,
    mode: 'counted' | 'uncounted' = 'counted',
    onValue?: (value: T) => void,
    limit = this.#timeout,
  ): Promise<T> {
    const circuit = mode === 'counted' ? this.#circuit : undefined
    if (circuit && !circuit.allow()) {
      return Promise.reject(new CacheCircuitOpenError(this.name, operation))
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const cancel = watchDeadline(limit, () => {
        if (settled) return
        settled = true
        circuit?.failure()
        reject(new CacheTimeoutError(`${this.name} ${operation}`, limit))
      })
      const done = (error: unknown, value?: T) => {
        if (settled) return
        settled = true
        cancel()
        if (error === undefined) {
          circuit?.success()
          onValue?.(value as T)
          resolve(value as T)
        } else {
          circuit?.failure()
          reject(error)
        }
      }
      let running: Promise<T>
      try {
        running = work()
      } catch (error) {
        done(error ?? new Error('adapter threw'))
        return
      }
      running.then(
        (value) => done(undefined, value),
        (error: unknown) => done(error ?? new Error('adapter rejected')),
      )
    })
  }

  readonly #learnReply = (reply: { now: number }) => this.#learn(reply.now)

  read(key: string, lock?: LockRequest, tags?: TagRead): Promise<ReadReply> {
    const learn = this.#clockOf === undefined ? this.#learnReply : (reply: ReadReply) => this.#learn(reply.now, key)
    return this.#run('read', () => this.#adapter.read(key, lock, tags), 'counted', learn)
  }

  /**
   * Reads many keys: one bounded operation where the adapter batches them, else one bounded `read` per key in
   * parallel (custom adapters keep working). Rejects when any of them fails; the caller then treats every key as
   * unread (and releases the locks it may have taken).
   */
  readMany(keys: readonly string[], locks?: LockRequests, tags?: TagRead): Promise<ReadReply[]> {
    const adapter = this.#adapter
    const readMany = adapter.readMany
    if (readMany) {
      const read = (): Promise<ReadReply[]> => {
        if (keys.length <= MAX_READ_MANY) return readMany.call(adapter, keys, locks, tags)
        const parts: Promise<ReadReply[]>[] = []
        for (let first = 0; first < keys.length; first += MAX_READ_MANY) {
          const end = first + MAX_READ_MANY
          const partLocks = locks && { ...locks, tokens: locks.tokens.slice(first, end) }
          parts.push(readMany.call(adapter, keys.slice(first, end), partLocks, tags))
        }
        return Promise.all(parts).then((replies) => replies.flat())
      }
      return this.#run('read', read, 'counted', (replies) => this.#learnMany(keys, replies))
    }
    return Promise.all(
      keys.map((key, i) =>
        this.read(
          key,
          locks ? { token: locks.tokens[i] as string, ttl: locks.ttl, keep: locks.keep } : undefined,
          tags,
        ),
      ),
    )
  }

  /** Whether the adapter reads many keys in one step (else {@link readMany} sends one read per key). */
  get batchesReads(): boolean {
    return this.#adapter.readMany !== undefined
  }

  /**
   * Where masters' clocks may disagree (a cluster), each key's reply teaches its own master's clock, so a batch's
   * entries (and the tier's copies of them) are judged as a single read would judge them; else the last reply does.
   */
  #learnMany(keys: readonly string[], replies: readonly ReadReply[]): void {
    if (this.#clockOf === undefined) {
      const last = replies[replies.length - 1]
      if (last) this.#learn(last.now)
      return
    }
    replies.forEach((reply, i) => {
      this.#learn(reply.now, keys[i])
    })
  }

  peek(key: string): Promise<Slot | null | 'garbage'> {
    const adapter = this.#adapter
    return this.#run('read', () => (adapter.peek as NonNullable<CacheAdapter['peek']>).call(adapter, key))
  }

  peekTagged(key: string, tagKeys: readonly string[]) {
    const adapter = this.#adapter
    const peekTagged = adapter.peekTagged as NonNullable<CacheAdapter['peekTagged']>
    return this.#run('read', () => peekTagged.call(adapter, key, tagKeys))
  }

  /** Whether the adapter can peek many keys (with tag records) in one command. */
  get canPeekMany(): boolean {
    return this.#adapter.peekMany !== undefined
  }

  peekMany(keys: readonly string[], tagKeys: readonly string[]) {
    const adapter = this.#adapter
    const peekMany = adapter.peekMany as NonNullable<CacheAdapter['peekMany']>
    return this.#run('read', () => peekMany.call(adapter, keys, tagKeys))
  }

  write(key: string, request: WriteRequest): Promise<WriteResult> {
    return this.#run('write', () => this.#adapter.write(key, request))
  }

  /** Resolves false when the adapter cannot extend locks. */
  extend(key: string, token: string, ttl: number): Promise<boolean> {
    const adapter = this.#adapter
    const extend = adapter.extend
    if (!extend) return Promise.resolve(false)
    return this.#run('extend', () => extend.call(adapter, key, token, ttl))
  }

  get canExtend(): boolean {
    return this.#adapter.extend !== undefined
  }

  /** `quiet`: a release that cleans up after a read whose failure was already counted (sent even while open). */
  release(key: string, token: string, quiet = false): Promise<void> {
    return this.#run('release', () => this.#adapter.release(key, token), quiet ? 'uncounted' : 'counted')
  }

  invalidate(keys: readonly string[], gen: string, ttl: number): Promise<void> {
    return this.#run('invalidate', () => this.#adapter.invalidate(keys, gen, ttl))
  }

  /** Undefined when the adapter cannot scan. Each page and batch is bounded; the whole walk is not. */
  get invalidateMatching(): ((pattern: string, gen: string, ttl: number) => Promise<number>) | undefined {
    const adapter = this.#adapter
    const scan = adapter.invalidateMatching
    if (!scan) return undefined
    const step: Step = (work) => this.#run('invalidatePattern', work)
    return (pattern, gen, ttl) => scan.call(adapter, pattern, gen, ttl, step)
  }

  readTags(keys: readonly string[], ttl: number): Promise<TagReply> {
    const learn = this.#clockOf === undefined ? this.#learnReply : (reply: TagReply) => this.#learn(reply.now, keys[0])
    return this.#run('readTags', () => this.#adapter.readTags(keys, ttl), 'counted', learn)
  }

  invalidateTags(keys: readonly string[], ttl: number): Promise<void> {
    return this.#run('invalidateTags', () => this.#adapter.invalidateTags(keys, ttl))
  }

  /** The adapter's `replicated`, bounded by `timeout` plus the wait it asks for. */
  replicated(keys: readonly string[] | null, replicas: number, ms: number): Promise<number> {
    const adapter = this.#adapter
    const replicated = adapter.replicated as NonNullable<CacheAdapter['replicated']>
    const wait = () => replicated.call(adapter, keys, replicas, ms)
    return this.#run('waitForReplicas', wait, 'counted', undefined, this.#timeout + ms)
  }

  /** Straight to the backend, past the breaker (health reports what the backend does now), within `timeout`. */
  ping(): Promise<void> {
    return this.#run('ping', () => this.#adapter.ping(), 'uncounted')
  }

  /** The adapter's announcements, when it can subscribe to them (see CacheAdapter.subscribe). */
  get subscribe(): ((listener: AnnouncementListener) => () => void) | undefined {
    const adapter = this.#adapter
    const subscribe = adapter.subscribe
    return subscribe ? (listener) => subscribe.call(adapter, listener) : undefined
  }

  /** Resolves when a write at `key` is announced, or after `ms`; a plain wait where the adapter has no announcements. */
  waitForWrite(key: string, ms: number): Promise<void> {
    const adapter = this.#adapter
    if (adapter.waitForWrite) return adapter.waitForWrite(key, ms)
    return new Promise((resolve) => setTimeout(resolve, ms))
  }

  /**
   * Resolves once the backend's clock is known, reading `key` for it when no reply has taught it yet;
   * concurrent callers share that one read.
   */
  knowClock(key: string): Promise<void> | undefined {
    const clockOf = this.#clockOf
    let server = ''
    if (clockOf === undefined) {
      if (this.#offset !== undefined) return undefined
    } else {
      // Each server's own clock, even while the others agree: a server not heard from yet may be the one off.
      server = clockOf(key)
      if (this.#offsets.has(server) && server !== '') return undefined
      // A cluster client still connecting cannot tell which server holds the key: it reads the key itself, so the
      // reply teaches that server's clock (a probe shared with keys of other servers would not).
      if (server === '') return this.read(key).then(() => undefined)
    }
    let probe = this.#probes.get(server)
    if (!probe) {
      probe = this.read(key)
        .then(() => undefined)
        .finally(() => {
          this.#probes.delete(server)
        })
      this.#probes.set(server, probe)
    }
    return probe
  }

  dispose(): Promise<void> {
    return this.#adapter.dispose?.() ?? Promise.resolve()
  }
}
