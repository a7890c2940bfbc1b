/**
 * Durations: a number of milliseconds, or a string like `'250ms'`, `'10s'`, `'5m'`, `'1h'`, `'1d'`.
 * @module
 */

/** A duration in milliseconds, or a string with a unit: `'250ms'`, `'10s'`, `'5m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${DurationUnit}`
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
  let ms: number
  if (typeof input === 'number') {
    ms = input
  } else if (typeof input === 'string') {
    const match = PATTERN.exec(input.trim())
    if (!match) return undefined
    ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit]
  } else {
    return undefined
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DURATION_MS) return undefined
  return Math.round(ms)
}
