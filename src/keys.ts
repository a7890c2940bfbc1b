/**
 * Keys: namespace joining, key validation, Redis glob escaping and matching. Pure.
 * @module
 */
import { CacheKeyError } from './errors.js'

/** Separator between namespace segments and the logical key: entry K of namespace N lives at `N:K`. */
export const SEPARATOR = ':'

/** Longest logical key accepted, in UTF-16 code units (Upstash's hard limit is 32 KB; keys should be short). */
export const MAX_KEY_LENGTH = 1024
/** Longest pattern accepted by `invalidatePattern` (CVE-2024-31228: unbounded recursion on long patterns). */
export const MAX_PATTERN_LENGTH = 256
/** Most wildcards (`*`, `?`, `[`) in one pattern (CVE-2022-36021: exponential matching on many `*`). */
export const MAX_PATTERN_WILDCARDS = 8

/**
 * Throws a {@link CacheKeyError} unless `key` is a non-empty string of at most {@link MAX_KEY_LENGTH} characters.
 * `what` names it in the message, `index` its place in a list (`keys[3]`): the name is built only for a key that
 * fails, since a batch checks every key and a string per key would cost more than the checks.
 */
export function assertKey(key: unknown, what = 'key', index?: number): asserts key is string {
  if (typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_LENGTH && wellFormed(key)) return
  const name = index === undefined ? what : `${what}[${index}]`
  if (typeof key !== 'string')
    throw new CacheKeyError(`${name} must be a string, got ${key === null ? 'null' : typeof key}`)
  if (key.length === 0) throw new CacheKeyError(`${name} must not be empty`)
  if (key.length > MAX_KEY_LENGTH) {
    throw new CacheKeyError(`${name} is ${key.length} characters long; the limit is ${MAX_KEY_LENGTH}`)
  }
  throw new CacheKeyError(`${name} ${LONE_SURROGATE_MESSAGE}`)
}

const LONE_SURROGATE_MESSAGE =
  'holds a lone UTF-16 surrogate (cut inside an emoji?), which Redis stores as U+FFFD: use toWellFormed()'

/**
 * False when `text` holds a lone UTF-16 surrogate. Redis keys are bytes: such a string is sent as UTF-8 with U+FFFD
 * in its place, so two different strings would name one key, and an announcement about it would name neither.
 * `isWellFormed` is ES2024 (Node 20, Bun, Deno, workerd); a method call is what V8 makes cheap: ~8 ns on a short key.
 */
export function wellFormed(text: string): boolean {
  const s = text as unknown as { isWellFormed?: () => boolean }
  return s.isWellFormed === undefined || s.isWellFormed()
}

/**
 * Throws unless `keys` is an array of at most `max` usable keys (see {@link assertKey}); `what` names the argument
 * in the message, and each bad key is named by its index.
 */
export function assertKeyList(keys: unknown, max: number, what = 'keys'): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) {
    throw new CacheKeyError(`${what} must be an array of keys, got ${keys === null ? 'null' : typeof keys}`)
  }
  if (keys.length > max) {
    throw new CacheKeyError(
      `${what} holds ${keys.length} keys; the limit is ${max} (the maxBatchKeys option): split the batch`,
    )
  }
  for (let i = 0; i < keys.length; i++) assertKey(keys[i], what, i)
}

/** Throws unless `name` is a usable namespace segment: non-empty, at most 128 characters. */
export function assertNamespace(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new CacheKeyError(
      `namespace must be a non-empty string, got ${typeof name === 'string' ? '""' : typeof name}`,
    )
  }
  if (name.length > 128) throw new CacheKeyError(`namespace is ${name.length} characters long; the limit is 128`)
  if (!wellFormed(name)) throw new CacheKeyError(`namespace ${LONE_SURROGATE_MESSAGE}`)
}

/** The prefix every key of a namespace path gets: `['app', 'rooms']` → `'app:rooms:'`; no namespace → `''`. */
export function prefixOf(namespaces: readonly string[]): string {
  return namespaces.length === 0 ? '' : namespaces.join(SEPARATOR) + SEPARATOR
}

const GLOB_SPECIAL = /[\\*?[\]]/g

/**
 * Escapes `\ * ? [ ]` so `value` matches only itself inside a Redis glob.
 * Use it when a pattern embeds an id that came from a user.
 * @example cache.invalidatePattern(`meetings:user:${escapeGlob(userId)}:*`)
 */
export function escapeGlob(value: string): string {
  return value.replace(GLOB_SPECIAL, '\\$&')
}

/** Throws a {@link CacheKeyError} for patterns that are too long or have too many wildcards. */
export function assertPattern(pattern: unknown): asserts pattern is string {
  assertKey(pattern, 'pattern')
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new CacheKeyError(`pattern is ${pattern.length} characters long; the limit is ${MAX_PATTERN_LENGTH}`)
  }
  let wildcards = 0
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') i++
    else if (c === '*' || c === '?' || c === '[') wildcards++
  }
  if (wildcards > MAX_PATTERN_WILDCARDS) {
    throw new CacheKeyError(`pattern has ${wildcards} wildcards; the limit is ${MAX_PATTERN_WILDCARDS}`)
  }
}

const utf8 = new TextEncoder()
const STAR = 0x2a
const QUESTION = 0x3f
const OPEN = 0x5b
const CLOSE = 0x5d
const BACKSLASH = 0x5c
const CARET = 0x5e
const DASH = 0x2d

/**
 * Matches `text` against a Redis glob exactly as Redis' `stringmatchlen` does (`*`, `?`, `[abc]`,
 * `[^a]`, `[a-z]`, `\\x`), byte by byte over UTF-8 as Redis does, so the memory adapter's scan agrees
 * with Redis. Iterative with one backtrack point, so it cannot blow up on `*a*a*a…`.
 */
export function globMatch(pattern: string, text: string): boolean {
  const pat = utf8.encode(pattern)
  const str = utf8.encode(text)
  // Redis never matches an empty string, whatever the pattern (its loop needs a byte to look at).
  if (str.length === 0) return pat.length === 0
  let p = 0
  let t = 0
  let starP = -1
  let starT = -1
  while (t < str.length) {
    if (p < pat.length) {
      const c = pat[p]
      if (c === STAR) {
        while (pat[p] === STAR) p++
        if (p === pat.length) return true
        starP = p
        starT = t
        continue
      }
      if (c === QUESTION) {
        p++
        t++
        continue
      }
      if (c === OPEN) {
        const { matched, next } = matchClass(pat, p, str[t] as number)
        if (matched) {
          p = next
          t++
          continue
        }
      } else {
        let literal = c
        let next = p + 1
        if (c === BACKSLASH && p + 1 < pat.length) {
          literal = pat[p + 1]
          next = p + 2
        }
        if (literal === str[t]) {
          p = next
          t++
          continue
        }
      }
    }
    if (starP === -1) return false
    p = starP
    t = ++starT
  }
  while (pat[p] === STAR) p++
  return p === pat.length
}

function matchClass(pat: Uint8Array, start: number, ch: number): { matched: boolean; next: number } {
  let p = start + 1
  const not = pat[p] === CARET
  if (not) p++
  let matched = false
  while (p < pat.length) {
    const c = pat[p] as number
    if (c === BACKSLASH && p + 1 < pat.length) {
      p++
      if (pat[p] === ch) matched = true
    } else if (c === CLOSE) {
      break
    } else if (pat[p + 1] === DASH && p + 2 < pat.length) {
      // As in Redis, `x-]` is a range up to ']': only the length is checked, not the third byte.
      let lo = c
      let hi = pat[p + 2] as number
      if (lo > hi) [lo, hi] = [hi, lo]
      if (ch >= lo && ch <= hi) matched = true
      p += 2
    } else if (c === ch) {
      matched = true
    }
    p++
  }
  // Redis treats an unterminated class as ending at the pattern's end.
  const next = p < pat.length ? p + 1 : p
  return { matched: not ? !matched : matched, next }
}

const MAX_TAG_LENGTH = 256

/** True when `tags` is an array of non-empty, well-formed strings of at most 256 characters each. */
export function isTagList(tags: unknown): tags is readonly string[] {
  return (
    Array.isArray(tags) &&
    tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TAG_LENGTH && wellFormed(t))
  )
}
