/**
 * Options: the interfaces users read, the checks that hold values to them, defaults and merging.
 * @module
 */
import type { CacheAdapter } from './adapters/adapter.js'
import type { Clock } from './clock.js'
import type { Duration } from './duration.js'
import { durationExpected, parseDuration } from './duration.js'
import { CacheOptionsError, type OptionIssue } from './errors.js'
import { isTagList } from './keys.js'
import type { Serializer } from './serializer.js'
import type { StandardSchemaV1 } from './standard-schema.js'
import type { Logger } from './telemetry.js'

/** Freshness and load options, accepted by the client, `namespace()` and each `getOrSet` call. */
export interface FreshnessOptions {
  /**
   * How long an entry is fresh. `0` stores nothing (a pass-through that still single-flights).
   * A number is milliseconds: `ttl: 300` is 300 ms, not 5 minutes (write `'5m'` or `300_000`).
   * @default '5m'
   * @example { ttl: '30s' }
   */
  ttl?: Duration
  /**
   * After `ttl`: how long a stale entry is served at once while one background refresh runs.
   * @default 0 (off)
   * @example { staleWhileRevalidate: '10m' }
   */
  staleWhileRevalidate?: Duration
  /**
   * After `ttl`: how long a stale entry is served when the loader fails (throws, rejects, or passes
   * `hardTimeout`).
   * @default 0 (off)
   * @example { staleIfError: '1h' }
   */
  staleIfError?: Duration
  /**
   * When a stale value exists and the load has not finished after this long, callers get the stale
   * value; the load goes on in the background and stores its result.
   * @default 0 (off)
   * @example { softTimeout: '200ms', staleIfError: '1h' }
   */
  softTimeout?: Duration
  /**
   * After this long the load is aborted through `ctx.signal` and fails with `CacheLoadTimeoutError`
   * (answered with a stale value inside `staleIfError`).
   * @default 0 (off)
   * @example { hardTimeout: '5s' }
   */
  hardTimeout?: Duration
  /**
   * After a failed load was answered with a stale value, how long that value keeps being served
   * without calling the loader again (per process), so a failing database is not hit by every request.
   * @default '5s'
   */
  errorBackoff?: Duration
  /**
   * Probabilistic early refresh (XFetch, Vattani et al., VLDB 2015): a fresh hit near expiry may start
   * one background refresh, more likely the longer the last load took. `true` is beta 1; larger refreshes earlier.
   * @default false
   * @example { earlyRefresh: true }
   */
  earlyRefresh?: boolean | number
  /**
   * Shortens each entry's `ttl` by a random fraction up to this (0 to 1), so entries written together
   * do not all expire together. Never lengthens it.
   * @default 0
   * @example { jitter: 0.1 }
   */
  jitter?: number
}

/** Options of `createCacheClient`. */
export interface CacheClientOptions extends FreshnessOptions {
  /**
   * The backend.
   * @default memoryAdapter()
   * @example { adapter: ioredisAdapter(new Redis(process.env.REDIS_URL)) }
   */
  adapter?: CacheAdapter
  /**
   * Key prefix: the entry for key K lives at `namespace:K`. Without one, `clear()` refuses to run.
   * @example { namespace: 'app' }
   */
  namespace?: string
  /**
   * The most one backend operation may delay a caller. Reads that take longer are answered by the
   * loader (or a stale value); writes reject with `CacheTimeoutError`.
   * @default '1s'
   */
  timeout?: Duration
  /**
   * `false` turns caching off: every `getOrSet` calls its loader, `get` finds nothing, writes do nothing.
   * @default true
   * @example { enabled: process.env.NODE_ENV !== 'test' }
   */
  enabled?: boolean
  /**
   * How long a stampede lock lives if its holder never releases it (a crashed process).
   * @default '10s'
   */
  lockTtl?: Duration
  /**
   * How long a caller waits for another process's load of the same key before loading itself.
   * @default '5s'
   */
  lockWait?: Duration
  /**
   * Receives every background task (stale-while-revalidate refreshes, early refreshes, soft-timeout
   * loads) so a serverless platform can keep the invocation alive until it settles.
   * @example { waitUntil: (promise) => ctx.waitUntil(promise) }
   */
  waitUntil?: (promise: Promise<unknown>) => void
  /**
   * After `threshold` consecutive backend failures, skip the backend for `duration` (reads go straight
   * to the loader, writes reject at once), then let one call probe it. `false` turns it off.
   * @default { threshold: 5, duration: '5s' }
   */
  circuitBreaker?:
    | false
    | {
        /** Consecutive backend failures that open the breaker. @default 5 */
        threshold?: number
        /** How long it stays open before one call probes the backend. @default '5s' */
        duration?: Duration
      }
  /**
   * `false` stops counting and latency sampling (`metrics()` then reports zeros); events still fire.
   * @default true
   */
  metrics?: boolean
  /**
   * A pino-compatible logger (`debug`, `info`, `warn`, `error`, each called as `(object, message)`).
   * Backend failures and circuit changes are logged at `warn`/`info`; loader failures, refreshes and
   * invalidations at `debug`; never a hit or miss, a cached value, a URL or a token.
   * @default silent
   * @example { logger: pino({ level: 'info' }) }
   */
  logger?: Logger
  /**
   * How entry bodies become strings.
   * @default JSON, with prototype-pollution keys removed on decode
   */
  serializer?: Serializer
  /**
   * Clock for durations the client measures (load times). Entry freshness uses the backend's clock.
   * @default Date.now
   */
  clock?: Clock
}

/** Options of `namespace(name, options)`: defaults for everything under that prefix. */
export interface NamespaceOptions extends FreshnessOptions {}

/** Options of one `getOrSet` call. */
export interface GetOrSetOptions<T = unknown> extends FreshnessOptions {
  /**
   * Tags the entry carries.
   * @example { tags: ['rooms', `room:${id}`] }
   */
  tags?: readonly string[]
  /**
   * Standard Schema (zod 4, valibot, arktype…) the value must satisfy. A cached value that fails it
   * is a miss and is deleted; a loaded value that fails it rejects with `CacheSchemaError`.
   */
  schema?: StandardSchemaV1<unknown, T>
  /**
   * Bounded label for metrics (`'rooms'`, `'search'`); never the raw key.
   * @example { category: 'rooms' }
   */
  category?: string
  /** Aborts this caller's wait (not a load other callers share). */
  signal?: AbortSignal
}

/** Options of `get` and `has`. */
export interface GetOptions<T = unknown> {
  /**
   * Also return entries past `ttl` that are still inside `staleWhileRevalidate` or `staleIfError`.
   * @default false
   */
  allowStale?: boolean
  /** As in {@link GetOrSetOptions.schema}. */
  schema?: StandardSchemaV1<unknown, T>
  /** As in {@link GetOrSetOptions.category}. */
  category?: string
}

/** Options of `set`. */
export interface SetOptions extends Pick<FreshnessOptions, 'ttl' | 'staleWhileRevalidate' | 'staleIfError'> {
  /** Tags the entry carries. */
  tags?: readonly string[]
}

/** Freshness and load options in milliseconds, fully defaulted. */
export interface Policy {
  readonly ttl: number
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  readonly softTimeout: number
  readonly hardTimeout: number
  readonly errorBackoff: number
  /** XFetch beta; 0 is off. */
  readonly earlyRefresh: number
  readonly jitter: number
}

/** What `createCacheClient` keeps after validation. */
export interface ResolvedClientOptions {
  readonly adapter: CacheAdapter | undefined
  readonly namespace: string | undefined
  readonly policy: Policy
  readonly timeout: number
  readonly enabled: boolean
  readonly lockTtl: number
  readonly lockWait: number
  readonly serializer: Serializer | undefined
  readonly clock: Clock | undefined
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined
  readonly circuitBreaker: { readonly threshold: number; readonly duration: number } | undefined
  readonly metrics: boolean
  readonly logger: Logger | undefined
}

export const DEFAULTS = Object.freeze({
  ttl: 5 * 60_000,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  softTimeout: 0,
  hardTimeout: 0,
  errorBackoff: 5_000,
  earlyRefresh: 0,
  jitter: 0,
  timeout: 1_000,
  circuitThreshold: 5,
  circuitDuration: 5_000,
  lockTtl: 10_000,
  lockWait: 5_000,
})

/**
 * Checks one option value: returns it parsed, or records an issue and returns `undefined`. Hand-written rather than
 * zod: zod was 74 of the core bundle's 128 minified kB for these dozen checks (test/package/bundle.test.ts), and a
 * hand-written check words its own messages. test/unit/options.test.ts holds the zod schema these replaced and
 * checks that both accept, resolve and report the same.
 */
type Check<T> = (value: unknown, path: string, issues: OptionIssue[]) => T | undefined

/** A check over a parser: when it returns `undefined`, the issue says what was expected and what was got. */
const checkWith =
  <T>(parseValue: (v: unknown) => T | undefined, expected: (v: unknown) => string): Check<T> =>
  (value, path, issues) => {
    const parsed = parseValue(value)
    if (parsed === undefined) issues.push({ path, message: `expected ${expected(value)}, got ${show(value)}` })
    return parsed
  }

/** A check for a value that `guard` accepts as is. */
const accepted = <T>(guard: (v: unknown) => v is T, expected: string): Check<T> =>
  checkWith(
    (v) => (guard(v) ? v : undefined),
    () => expected,
  )

const duration = checkWith(parseDuration, durationExpected)
const positiveDuration: Check<number> = (value, path, issues) => {
  const ms = duration(value, path, issues)
  if (ms !== 0) return ms
  issues.push({ path, message: `must be greater than 0, got ${show(value)}` })
  return undefined
}

const hasFunctions = (v: unknown, names: readonly string[]): boolean =>
  typeof v === 'object' && v !== null && names.every((n) => typeof (v as Record<string, unknown>)[n] === 'function')
const isBoolean = (b: unknown): b is boolean => typeof b === 'boolean'
const TRUE_OR_FALSE = 'true or false'

const betaOf = (v: unknown): number | undefined =>
  v === true ? 1 : v === false ? 0 : typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100 ? v : undefined
const fractionOf = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1 ? v : undefined

/** The freshness options, checked alike at construction, in `namespace()` and on every call. */
const POLICY_PARSERS: Record<
  keyof Policy,
  { parse: (v: unknown) => number | undefined; expected: (v: unknown) => string }
> = {
  ttl: { parse: parseDuration, expected: durationExpected },
  staleWhileRevalidate: { parse: parseDuration, expected: durationExpected },
  staleIfError: { parse: parseDuration, expected: durationExpected },
  softTimeout: { parse: parseDuration, expected: durationExpected },
  hardTimeout: { parse: parseDuration, expected: durationExpected },
  errorBackoff: { parse: parseDuration, expected: durationExpected },
  earlyRefresh: { parse: betaOf, expected: () => 'true, false or a beta between 0 and 100' },
  jitter: { parse: fractionOf, expected: () => 'a fraction between 0 and 1' },
}
const POLICY_KEYS = Object.keys(POLICY_PARSERS) as (keyof Policy)[]

const FRESHNESS_CHECKS = Object.fromEntries(
  POLICY_KEYS.map((key) => [key, checkWith(POLICY_PARSERS[key].parse, POLICY_PARSERS[key].expected)]),
) as Record<keyof Policy, Check<number>>

const CIRCUIT_BREAKER_CHECKS = {
  threshold: checkWith(
    (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : undefined),
    () => 'a whole number of failures, at least 1',
  ),
  duration: positiveDuration,
}

const CLIENT_CHECKS = {
  ...FRESHNESS_CHECKS,
  adapter: accepted(
    (a): a is CacheAdapter => hasFunctions(a, ['read', 'write', 'invalidate']),
    'a cacheward adapter such as memoryAdapter(), ioredisAdapter(redis) or upstashAdapter(redis)',
  ),
  namespace: accepted(
    (n): n is string => typeof n === 'string' && n.length > 0 && n.length <= 128,
    'a non-empty string of at most 128 characters',
  ),
  timeout: positiveDuration,
  enabled: accepted(isBoolean, TRUE_OR_FALSE),
  lockTtl: positiveDuration,
  lockWait: duration,
  serializer: accepted(
    (v): v is Serializer => hasFunctions(v, ['serialize', 'deserialize']),
    '{ serialize(value): string, deserialize(text): unknown }',
  ),
  clock: accepted((c): c is Clock => hasFunctions(c, ['now']), '{ now(): number }'),
  waitUntil: accepted(
    (f): f is (promise: Promise<unknown>) => void => typeof f === 'function',
    'a function receiving a promise',
  ),
  circuitBreaker: ((value, path, issues) => {
    if (value === false) return false
    if (!isObject(value)) {
      const expected =
        'false (off) or { threshold?: number, duration?: Duration } (it is on by default: leave it out, or pass {} for the defaults)'
      issues.push({ path, message: `expected ${expected}, got ${show(value)}` })
      return undefined
    }
    return checkObject(value, CIRCUIT_BREAKER_CHECKS, `${path}.`, issues)
  }) as Check<false | Checked<typeof CIRCUIT_BREAKER_CHECKS>>,
  metrics: accepted(isBoolean, TRUE_OR_FALSE),
  logger: accepted(
    (l): l is Logger => hasFunctions(l, ['debug', 'info', 'warn', 'error']),
    'a pino-compatible logger: { debug, info, warn, error } functions',
  ),
}

// The drift guard: the checks and the hand-written interfaces must name the same options, or this does not compile.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never
const _clientKeys: SameKeys<typeof CLIENT_CHECKS, CacheClientOptions> = true
const _namespaceKeys: SameKeys<typeof FRESHNESS_CHECKS, NamespaceOptions> = true
void _clientKeys
void _namespaceKeys

type Checked<C> = { [K in keyof C]?: C[K] extends Check<infer T> ? T : never }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Checks every own key of `input`: unknown names and bad values are all recorded, not only the first. */
function checkObject<C extends Record<string, Check<unknown>>>(
  input: Record<string, unknown>,
  checks: C,
  prefix: string,
  issues: OptionIssue[],
): Checked<C> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(input)) {
    const value = input[key]
    // hasOwn: a name like "constructor" is unknown, not Object.prototype's.
    const check = Object.hasOwn(checks, key) ? checks[key] : undefined
    if (!check) issues.push({ path: prefix + key, message: 'unknown option' })
    else if (value !== undefined) out[key] = check(value, prefix + key, issues)
  }
  return out as Checked<C>
}

/** Checks an options argument (`undefined` and `null` are no options); throws one error listing every issue. */
function checkOptions<C extends Record<string, Check<unknown>>>(input: unknown, checks: C): Checked<C> {
  const issues: OptionIssue[] = []
  const options = input ?? {}
  const out = isObject(options) ? checkObject(options, checks, '', issues) : {}
  if (!isObject(options)) issues.push({ path: '(options)', message: `expected an object, got ${show(options)}` })
  if (issues.length > 0) throw new CacheOptionsError(issues)
  return out
}

/** Validates and defaults the options of `createCacheClient`; throws {@link CacheOptionsError}. */
export function resolveClientOptions(options: unknown): ResolvedClientOptions {
  const o = checkOptions(options, CLIENT_CHECKS)
  const policy = resolvePolicy(DEFAULTS, o)
  return Object.freeze({
    adapter: o.adapter,
    namespace: o.namespace,
    policy,
    timeout: o.timeout ?? DEFAULTS.timeout,
    enabled: o.enabled ?? true,
    lockTtl: o.lockTtl ?? DEFAULTS.lockTtl,
    lockWait: o.lockWait ?? DEFAULTS.lockWait,
    serializer: o.serializer,
    clock: o.clock,
    waitUntil: o.waitUntil,
    circuitBreaker:
      o.circuitBreaker === false
        ? undefined
        : Object.freeze({
            threshold: o.circuitBreaker?.threshold ?? DEFAULTS.circuitThreshold,
            duration: o.circuitBreaker?.duration ?? DEFAULTS.circuitDuration,
          }),
    metrics: o.metrics ?? true,
    logger: o.logger,
  })
}

/** Validates the options of `namespace(name, options)` and merges them over the parent's policy. */
export function resolveNamespacePolicy(parent: Policy, options: unknown): Policy {
  return resolvePolicy(parent, checkOptions(options, FRESHNESS_CHECKS))
}

const CALL_KEYS = {
  getOrSet: new Set([...POLICY_KEYS, 'tags', 'schema', 'category', 'signal']),
  get: new Set(['allowStale', 'schema', 'category']),
  set: new Set(['ttl', 'staleWhileRevalidate', 'staleIfError', 'tags']),
} as const

/** What a call's options resolve to. */
export interface ResolvedCall {
  readonly policy: Policy
  readonly tags: readonly string[]
  readonly schema: StandardSchemaV1 | undefined
  readonly category: string | undefined
  readonly signal: AbortSignal | undefined
  readonly allowStale: boolean
}

/**
 * Resolves per-call options over `base`. Runs on every call, the hit path included, so checks are not redone per
 * call: no options, the same options object as a recent call, or a literal rebuilt with the content of the last call
 * of this kind (the same call site in a loop) return the resolution made then, without parsing or allocating.
 * Reuse is decided by content, read at every call, never by identity alone: an options object changed since (a key,
 * a value, a tag pushed in place) is checked again, so reusing and changing one object is safe. `signal` is each
 * call's own. Resolutions are shared, so they are read-only (typed so; freezing cost more than the checks saved).
 */
export function resolveCallOptions(kind: CallKind, base: Policy, options: unknown): ResolvedCall {
  let calls = CALLS.get(base)
  if (calls === undefined) {
    calls = { none: {}, last: {}, objects: [], memos: [], next: 0 }
    CALLS.set(base, calls)
  }
  if (options === undefined) {
    calls.none[kind] ??= noOptions(base)
    return calls.none[kind]
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CacheOptionsError([{ path: `${kind} options`, message: `expected an object, got ${show(options)}` }])
  }
  const o = options as Record<string, unknown>
  // The same object: pointer comparisons first, the content check only on a match.
  const slot = calls.objects.indexOf(o)
  if (slot >= 0) {
    const recent = calls.memos[slot] as Memo
    if (recent.kind === kind && sameContent(o, recent.read)) return recent.result
  }
  // A literal rebuilt per call: one content comparison, with the last resolution of this kind.
  let memo = calls.last[kind]
  if (memo === undefined || !sameContent(o, memo.read)) {
    memo = resolveFresh(kind, base, o)
    calls.last[kind] = memo
    // Remembered by identity only without a signal: an object holding one belongs to a request and will not recur.
    if (o.signal === undefined) {
      const at = slot >= 0 ? slot : calls.next
      if (slot < 0) calls.next = (calls.next + 1) % RECENT_CALLS
      calls.objects[at] = o
      calls.memos[at] = memo
    }
  }
  const signal = o.signal
  if (signal === undefined) return memo.result
  checkSignal(signal)
  const { policy, tags, schema, category, allowStale } = memo.result
  return { policy, tags, schema, category, signal, allowStale }
}

type CallKind = keyof typeof CALL_KEYS

/** How many options objects are remembered by identity per policy. */
const RECENT_CALLS = 8

/** What was resolved for a policy: calls without options, the last call of each kind, recent options objects. */
interface Calls {
  none: { [K in CallKind]?: ResolvedCall }
  last: { [K in CallKind]?: Memo }
  /** Recent options objects, and what each resolved to (same index), replaced round robin. */
  objects: object[]
  memos: Memo[]
  next: number
}
const CALLS = new WeakMap<Policy, Calls>()

/** One resolution and the options content it was made from. */
interface Memo {
  readonly kind: CallKind
  /** Keys and values in order, flat: `tags` as the copy the resolution holds, `signal` not kept. */
  readonly read: unknown[]
  /** Without the signal: each call brings its own. */
  readonly result: ResolvedCall
}

/** What a call without options resolves to. A literal rather than a spread of a template: V8 spreads slowly. */
const noOptions = (policy: Policy): ResolvedCall => ({
  policy,
  tags: EMPTY,
  schema: undefined,
  category: undefined,
  signal: undefined,
  allowStale: false,
})
const EMPTY: readonly string[] = Object.freeze([])

/** True when `o` holds, in order, the keys and values `read` was made from (tags by content, signals aside). */
function sameContent(o: Record<string, unknown>, read: unknown[]): boolean {
  let i = 0
  for (const key in o) {
    if (key !== read[i]) return false
    const value = o[key]
    const was = read[i + 1]
    i += 2
    if (value === was || key === 'signal') continue
    if (key !== 'tags' || !Array.isArray(value) || !Array.isArray(was) || value.length !== was.length) return false
    for (let t = 0; t < value.length; t++) if (value[t] !== was[t]) return false
  }
  return i === read.length
}

function resolveFresh(kind: CallKind, base: Policy, o: Record<string, unknown>): Memo {
  const result: { -readonly [K in keyof ResolvedCall]: ResolvedCall[K] } = noOptions(base)
  const read: unknown[] = []
  const allowed = CALL_KEYS[kind]
  let policy: Record<string, number> | undefined
  for (const key in o) {
    let value = o[key]
    if (!allowed.has(key)) fail(key, `unknown option for ${kind}(); known: ${[...allowed].join(', ')}`)
    if (value !== undefined) {
      const parser = POLICY_PARSERS[key as keyof Policy]
      if (parser) {
        const parsed = parser.parse(value)
        if (parsed === undefined) fail(key, `expected ${parser.expected(value)}, got ${show(value)}`)
        policy ??= { ...base }
        policy[key] = parsed
      } else {
        switch (key) {
          case 'tags':
            if (!isTagList(value)) {
              fail(key, `expected an array of non-empty strings (at most 256 characters), got ${show(value)}`)
            }
            // A copy: the caller may change its array while this call, or another holding this resolution, runs.
            value = [...(value as string[])]
            result.tags = value as string[]
            break
          case 'schema':
            if (typeof (value as StandardSchemaV1)?.['~standard']?.validate !== 'function') {
              fail(key, 'expected a Standard Schema (for example a zod 4 schema)')
            }
            result.schema = value as StandardSchemaV1
            break
          case 'category':
            if (typeof value !== 'string' || value.length === 0 || value.length > 64) {
              fail(key, `expected a short non-empty string (at most 64 characters), got ${show(value)}`)
            }
            result.category = value as string
            break
          case 'signal':
            checkSignal(value)
            value = undefined // not kept: the memo must not hold a request's signal alive
            break
          case 'allowStale':
            if (typeof value !== 'boolean') fail(key, `expected true or false, got ${show(value)}`)
            result.allowStale = value as boolean
            break
        }
      }
    }
    read.push(key, value)
  }
  if (policy) result.policy = policy as unknown as Policy
  return { kind, read, result }
}

function checkSignal(value: unknown): asserts value is AbortSignal {
  if (typeof (value as AbortSignal)?.aborted !== 'boolean') fail('signal', 'expected an AbortSignal')
}

function fail(path: string, message: string): never {
  throw new CacheOptionsError([{ path, message }])
}

type PolicyInput = { [K in keyof Policy]?: number | undefined }

function resolvePolicy(base: Policy, o: PolicyInput): Policy {
  const merged = { ...base }
  for (const key of POLICY_KEYS) {
    const value = o[key]
    if (value !== undefined) merged[key] = value
  }
  return Object.freeze(merged)
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value)
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
