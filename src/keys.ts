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

/** Throws a {@link CacheKeyError} unless `key` is a non-empty string of at most {@link MAX_KEY_LENGTH} characters. */
export function assertKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string') {
    throw new CacheKeyError(`${what} must be a string, got ${key === null ? 'null' : typeof key}`)
  }
  if (key.length === 0) throw new CacheKeyError(`${what} must not be empty`)
  if (key.length > MAX_KEY_LENGTH) {
    throw new CacheKeyError(`${what} is ${key.length} characters long; the limit is ${MAX_KEY_LENGTH}`)
  }
}

/** Throws unless `name` is a usable namespace segment: non-empty, at most 128 characters. */
export function assertNamespace(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new CacheKeyError(
      `namespace must be a non-empty string, got ${typeof name === 'string' ? '""' : typeof name}`,
    )
  }
  if (name.length > 128) throw new CacheKeyError(`namespace is ${name.length} characters long; the limit is 128`)
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

/**
 * Matches `text` against a Redis glob exactly as Redis' `stringmatchlen` does (`*`, `?`, `[abc]`,
 * `[^a]`, `[a-z]`, `\x`), so the memory adapter's scan agrees with Redis. Iterative with one
 * backtrack point, so it cannot blow up on `*a*a*a…`.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0
  let t = 0
  let starP = -1
  let starT = -1
  while (t < text.length) {
    if (p < pattern.length) {
      const c = pattern[p]
      if (c === '*') {
        while (pattern[p] === '*') p++
        if (p === pattern.length) return true
        starP = p
        starT = t
        continue
      }
      if (c === '?') {
        p++
        t++
        continue
      }
      if (c === '[') {
        const { matched, next } = matchClass(pattern, p, text[t] as string)
        if (matched) {
          p = next
          t++
          continue
        }
      } else {
        let literal = c
        let next = p + 1
        if (c === '\\' && p + 1 < pattern.length) {
          literal = pattern[p + 1]
          next = p + 2
        }
        if (literal === text[t]) {
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
  while (pattern[p] === '*') p++
  return p === pattern.length
}

function matchClass(pattern: string, start: number, ch: string): { matched: boolean; next: number } {
  let p = start + 1
  const not = pattern[p] === '^'
  if (not) p++
  let matched = false
  while (p < pattern.length) {
    let c = pattern[p] as string
    if (c === '\\' && p + 1 < pattern.length) {
      p++
      c = pattern[p] as string
      if (c === ch) matched = true
    } else if (c === ']') {
      break
    } else if (pattern[p + 1] === '-' && p + 2 < pattern.length && pattern[p + 2] !== ']') {
      let lo = c
      let hi = pattern[p + 2] as string
      if (lo > hi) [lo, hi] = [hi, lo]
      if (ch >= lo && ch <= hi) matched = true
      p += 2
    } else if (c === ch) {
      matched = true
    }
    p++
  }
  // Redis treats an unterminated class as ending at the pattern's end.
  const next = p < pattern.length ? p + 1 : p
  return { matched: not ? !matched : matched, next }
}
