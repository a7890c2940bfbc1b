/**
 * The checks that hold option values to their interfaces (hand-written, see {@link Check}), and the
 * resolution of client and namespace options: validated, defaulted, frozen.
 * @module
 */
import type { CacheAdapter } from './adapters/adapter.js'
import type { Clock } from './clock.js'
import { DEFAULT_COMPRESS_THRESHOLD } from './compress.js'
import { durationExpected, parseDuration } from './duration.js'
import { CacheOptionsError, type OptionIssue } from './errors.js'
import { wellFormed } from './keys.js'
import {
  type CacheClientOptions,
  DEFAULTS,
  type NamespaceOptions,
  type Policy,
  type ResolvedClientOptions,
} from './options.js'
import type { Serializer } from './serializer.js'
import type { Logger } from './telemetry.js'

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
export const POLICY_PARSERS: Record<
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
export const POLICY_KEYS = Object.keys(POLICY_PARSERS) as (keyof Policy)[]

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

const L1_CHECKS = {
  maxEntries: checkWith(
    (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : undefined),
    () => 'a whole number of entries, at least 1',
  ),
  maxBytes: checkWith(
    (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : undefined),
    () => 'a whole number of bytes, at least 1',
  ),
  ttl: positiveDuration,
}

const maxValueBytes = checkWith(
  (v) => (v === Number.POSITIVE_INFINITY || (typeof v === 'number' && Number.isInteger(v) && v >= 1) ? v : undefined),
  () => 'a whole number of bytes, at least 1 (or Infinity for no bound)',
)

const COMPRESS_CHECKS = {
  threshold: checkWith(
    (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined),
    () => 'a whole number of bytes, at least 0',
  ),
}

const WAIT_CHECKS = {
  replicas: checkWith(
    (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : undefined),
    () => 'a whole number of replicas, at least 1',
  ),
  timeout: positiveDuration,
}

/** `{ replicas, timeout? }`: `replicas` is required, a wait with no count means nothing. */
const waitForReplicas = ((value, path, issues) => {
  if (!isObject(value) || value.replicas === undefined) {
    issues.push({ path, message: `expected { replicas: number, timeout?: Duration }, got ${show(value)}` })
    return undefined
  }
  return checkObject(value, WAIT_CHECKS, `${path}.`, issues)
}) as Check<Checked<typeof WAIT_CHECKS>>

/** Longest wait for replicas by default: a healthy replica acknowledges within milliseconds. */
const DEFAULT_WAIT_TIMEOUT = 250

/** `true`, `false`, or an object of `checks` (the tier's bounds). */
const l1Check = <C extends Record<string, Check<unknown>>>(checks: C, shape: string) =>
  ((value, path, issues) => {
    if (typeof value === 'boolean') return value
    if (!isObject(value)) {
      issues.push({ path, message: `expected true, false or ${shape}, got ${show(value)}` })
      return undefined
    }
    return checkObject(value, checks, `${path}.`, issues)
  }) as Check<boolean | Checked<C>>

const NAMESPACE_CHECKS = {
  ...FRESHNESS_CHECKS,
  l1: l1Check({ ttl: L1_CHECKS.ttl }, '{ ttl?: Duration }'),
  maxValueBytes,
}

const CLIENT_CHECKS = {
  ...FRESHNESS_CHECKS,
  l1: l1Check(L1_CHECKS, '{ maxEntries?: number, maxBytes?: number, ttl?: Duration }'),
  maxValueBytes,
  compress: l1Check(COMPRESS_CHECKS, '{ threshold?: number }'),
  waitForReplicas,
  adapter: accepted(
    (a): a is CacheAdapter => hasFunctions(a, ['read', 'write', 'invalidate']),
    'a cacheward adapter such as memoryAdapter(), ioredisAdapter(redis) or upstashAdapter(redis)',
  ),
  namespace: accepted(
    (n): n is string => typeof n === 'string' && n.length > 0 && n.length <= 128 && wellFormed(n),
    'a non-empty string of at most 128 characters, no lone surrogate',
  ),
  timeout: positiveDuration,
  enabled: accepted(isBoolean, TRUE_OR_FALSE),
  lockTtl: positiveDuration,
  lockWait: duration,
  maxBatchKeys: checkWith(
    (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : undefined),
    () => 'a whole number of keys, at least 1',
  ),
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
const _namespaceKeys: SameKeys<typeof NAMESPACE_CHECKS, NamespaceOptions> = true
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
    maxBatchKeys: o.maxBatchKeys ?? DEFAULTS.maxBatchKeys,
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
    l1:
      o.l1 === undefined || o.l1 === false
        ? undefined
        : Object.freeze({
            maxEntries: (o.l1 === true ? undefined : o.l1.maxEntries) ?? DEFAULT_L1_ENTRIES,
            maxBytes: o.l1 === true ? undefined : o.l1.maxBytes,
            ttl: o.l1 === true ? undefined : o.l1.ttl,
          }),
    maxValueBytes: o.maxValueBytes ?? DEFAULTS.maxValueBytes,
    compress:
      o.compress === undefined || o.compress === false
        ? undefined
        : Object.freeze({
            threshold: (o.compress === true ? undefined : o.compress.threshold) ?? DEFAULT_COMPRESS_THRESHOLD,
          }),
    waitForReplicas:
      o.waitForReplicas?.replicas === undefined
        ? undefined
        : Object.freeze({
            replicas: o.waitForReplicas.replicas,
            timeout: o.waitForReplicas.timeout ?? DEFAULT_WAIT_TIMEOUT,
          }),
  })
}

/** Entries the in-process tier keeps by default. */
const DEFAULT_L1_ENTRIES = 10_000

/** What a namespace's options resolve to: its policy, and its use of the in-process tier. */
export interface NamespaceSettings {
  policy: Policy
  /** The tier's ttl for this namespace (`undefined` inside: the client's); `false`: bypassed. */
  l1: { ttl: number | undefined } | false
  maxValueBytes: number
}

/**
 * Validates the options of `namespace(name, options)` and merges them over the parent's. `clientL1` says
 * whether the client has the tier at all: a namespace cannot turn on what the client does not have.
 */
export function resolveNamespaceOptions(
  parent: NamespaceSettings,
  options: unknown,
  clientL1: boolean,
): NamespaceSettings {
  const o = checkOptions(options, NAMESPACE_CHECKS)
  let l1 = parent.l1
  if (o.l1 !== undefined) {
    if (o.l1 !== false && !clientL1)
      fail('l1', 'a namespace can use the in-process tier only when the client has l1 on')
    l1 = o.l1 === false ? false : { ttl: o.l1 === true ? (parent.l1 || { ttl: undefined }).ttl : o.l1.ttl }
  }
  return { policy: resolvePolicy(parent.policy, o), l1, maxValueBytes: o.maxValueBytes ?? parent.maxValueBytes }
}

export function checkSignal(value: unknown): asserts value is AbortSignal {
  if (typeof (value as AbortSignal)?.aborted !== 'boolean') fail('signal', 'expected an AbortSignal')
}

export function fail(path: string, message: string): never {
  throw new CacheOptionsError([{ path, message }])
}

type PolicyInput = { [K in keyof Policy]?: number | undefined }

export function resolvePolicy(base: Policy, o: PolicyInput): Policy {
  const merged = { ...base }
  for (const key of POLICY_KEYS) {
    const value = o[key]
    if (value !== undefined) merged[key] = value
  }
  return Object.freeze(merged)
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value)
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
