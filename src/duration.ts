/**
 * Durations: a number of milliseconds, or a string like `'250ms'`, `'10s'`, `'5m'`, `'1h'`, `'1d'`.
 * @module
 */

/**
 * A duration in milliseconds, or a string with a unit: `'250ms'`, `'10s'`, `'5m'`, `'1.5h'`, `'1d'`.
 *
 * Strings are typed as tightly as the runtime check reads them, so `'5 m'`, `' 5m'`, `'-5m'`, `'5M'` or `'1e3ms'`
 * fail to compile instead of throwing at runtime: `${bigint}` refuses spaces, exponents and separators (`${number}`
 * accepts them), and the digit-first pattern refuses a sign. A string built from a `number` (`${n}m`) does not compile
 * either, since it could be any of those: pass milliseconds (`n * 60_000`). `${bigint}` also refuses leading zeros, hence
 * the fraction's optional `'0'` / `'00'` (`'1.05h'`, `'1.005h'`); a digit-first pattern on the fraction as well would
 * multiply the union past what TypeScript represents when options are spread.
 */
export type Duration =
  | number
  | (`${bigint}${DurationUnit}` & `${0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9}${string}`)
  | (`${bigint}.${'' | '0' | '00'}${bigint}${DurationUnit}` & `${0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9}${string}`)
/** Units accepted in duration strings. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/** The largest duration accepted: about 24.8 days, the limit of `setTimeout`. Redis PX accepts more, timers do not. */
export const MAX_DURATION_MS = 2_147_483_647

/**
 * Parses a duration to whole milliseconds, or returns `undefined` when it is not one
 * (negative, not finite, unknown unit, above {@link MAX_DURATION_MS}).
 */
export function parseDuration(input: unknown): number | undefined {
  const ms = unbounded(input)
  return ms >= 0 && ms <= MAX_DURATION_MS ? Math.round(ms) : undefined
}

/**
 * What a duration option expects, worded for `expected …, got …` when `input` was refused: the limit when
 * `input` is a well-formed duration past it (`'30d'` reads as valid to anyone who has not met setTimeout's limit).
 */
export function durationExpected(input: unknown): string {
  return unbounded(input) > MAX_DURATION_MS
    ? `at most about 24.8 days (${MAX_DURATION_MS} ms, the longest a timer can wait; '24d' is the most in whole days)`
    : "a duration like '250ms', '10s', '5m', '1h', '1d' or a number of milliseconds (0 to 2147483647, about 24.8 days)"
}

/** Milliseconds before any bound, or NaN when `input` is not a number or a string with a unit. */
function unbounded(input: unknown): number {
  if (typeof input === 'number') return Number.isFinite(input) ? input : Number.NaN
  if (typeof input !== 'string') return Number.NaN
  const match = PATTERN.exec(input.trim())
  return match ? Number(match[1]) * UNIT_MS[match[2] as DurationUnit] : Number.NaN
}
