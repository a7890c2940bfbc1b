/**
 * Type-level checks of `Duration`, run by `tsc --noEmit` (part of npm test): every string that parseDuration refuses
 * at runtime should fail to compile, so a typo like `'5 m'` is caught in the editor rather than by a CacheOptionsError.
 */
import { createCacheClient, type Duration, type NamespaceOptions, type SetOptions } from '../../src/index.js'

// What compiles: milliseconds, and whole or decimal numbers with a unit.
export const accepted: Duration[] = [
  0,
  1_500,
  '0ms',
  '250ms',
  '1000ms',
  '2147483647ms',
  '10s',
  '0.5s',
  '10.05s',
  '5m',
  '1h',
  '1.5h',
  '1.005h',
  '1d',
  '24d',
]

// What throws at runtime must not compile either.
// @ts-expect-error a space between the number and the unit
export const spaced: Duration = '5 m'
// @ts-expect-error a space before the unit of a decimal
export const spacedDecimal: Duration = '1.5 h'
// @ts-expect-error a leading space
export const leading: Duration = ' 5m'
// @ts-expect-error a unit spelt out
export const spelt: Duration = '5 minutes'
// @ts-expect-error a negative duration
export const negative: Duration = '-5m'
// @ts-expect-error a negative decimal
export const negativeDecimal: Duration = '-1.5h'
// @ts-expect-error a plus sign
export const plus: Duration = '+5m'
// @ts-expect-error units are lower case
export const upper: Duration = '5M'
// @ts-expect-error no exponent
export const exponent: Duration = '1e3ms'
// @ts-expect-error a decimal needs a digit before the point
export const leadingPoint: Duration = '.5s'
// @ts-expect-error and after it
export const trailingPoint: Duration = '5.s'
// @ts-expect-error no numeric separators
export const separator: Duration = '1_000ms'
// @ts-expect-error a number in a string needs a unit
export const unitless: Duration = '5'
// @ts-expect-error weeks are not a unit
export const weeks: Duration = '2w'
// @ts-expect-error not a number
export const infinite: Duration = 'Infinityms'

// Where users meet it: client, namespace, call and set options.
// @ts-expect-error client options
createCacheClient({ ttl: '5 m' })
// @ts-expect-error namespace options
export const namespaceOptions: NamespaceOptions = { staleWhileRevalidate: '10 m' }
// @ts-expect-error set options
export const setOptions: SetOptions = { staleIfError: '-1h' }
declare const cache: ReturnType<typeof createCacheClient>
// @ts-expect-error call options
void cache.getOrSet('k', () => 1, { ttl: '30 s' })

// A string built from an arbitrary number is not known to be well formed: pass milliseconds instead.
declare const minutes: number
// @ts-expect-error `${number}m` could be '-5m' or '1e21m'
export const built: Duration = `${minutes}m`
export const asMilliseconds: Duration = minutes * 60_000
