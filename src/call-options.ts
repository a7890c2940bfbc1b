/**
 * Per-call options: checked and merged over the scope's policy on every call, the hit path included, so
 * a resolution is reused whenever the call's options have the content of a recent one.
 * @module
 */
import { CacheOptionsError } from './errors.js'
import { isTagList } from './keys.js'
import { checkSignal, fail, POLICY_KEYS, POLICY_PARSERS, show } from './option-checks.js'
import type { CallKind, Policy, ResolvedCall } from './options.js'
import type { StandardSchemaV1 } from './standard-schema.js'

const CALL_KEYS: Record<CallKind, Set<string>> = {
  getOrSet: new Set([...POLICY_KEYS, 'tags', 'schema', 'category', 'signal']),
  getOrSetMany: new Set([...POLICY_KEYS, 'tags', 'schema', 'category', 'signal']),
  get: new Set(['allowStale', 'schema', 'category']),
  set: new Set(['ttl', 'staleWhileRevalidate', 'staleIfError', 'tags']),
} as const

/**
 * Resolves per-call options over `base`. Runs on every call, the hit path included, so checks are not redone per
 * call: no options, the same options object as a recent call, or a literal rebuilt with the content of the last call
 * of this kind (the same call site in a loop) return the resolution made then, without parsing or allocating.
 * Reuse is decided by content, read at every call, never by identity alone: an options object changed since (a key,
 * a value, a tag pushed in place) is checked again, so reusing and changing one object is safe. `signal` is each
 * call's own. Resolutions are shared, so they are read-only (typed so; freezing cost more than the checks saved).
 */
export function resolveCallOptions(kind: CallKind, base: Policy, options: unknown): ResolvedCall {
  // The policy of the last call first: most processes call through one namespace, and a WeakMap lookup was a
  // measurable share of a tier hit.
  let calls = base === lastBase ? lastCalls : CALLS.get(base)
  if (calls === undefined) {
    calls = { none: {}, last: {}, objects: [], memos: [], next: 0 }
    CALLS.set(base, calls)
  }
  lastBase = base
  lastCalls = calls
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
/** The policy of the last call and its entry in {@link CALLS} (one strong reference, replaced by the next call). */
let lastBase: Policy | undefined
let lastCalls: Calls | undefined

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
              fail(
                key,
                `expected an array of non-empty strings (at most 256 characters, no lone surrogate), got ${show(value)}`,
              )
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
