import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type DurationUnit, durationExpected, MAX_DURATION_MS, parseDuration } from '../../src/duration.js'

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['0ms', 0],
    ['0d', 0],
    ['1.5s', 1_500],
  ] as const)('reads %j as %d milliseconds', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it('takes a number as milliseconds, rounded to a whole one', () => {
    expect(parseDuration(0)).toBe(0)
    expect(parseDuration(1_500)).toBe(1_500)
    expect(parseDuration(1.4)).toBe(1)
    expect(parseDuration(1.6)).toBe(2)
  })

  it('accepts exactly MAX_DURATION_MS and nothing above it', () => {
    expect(parseDuration(MAX_DURATION_MS)).toBe(MAX_DURATION_MS)
    expect(parseDuration(MAX_DURATION_MS + 1)).toBeUndefined()
    expect(parseDuration('24d')).toBe(24 * 86_400_000)
    expect(parseDuration('25d')).toBeUndefined()
    expect(parseDuration(`${MAX_DURATION_MS + 1}ms`)).toBeUndefined()
  })

  it.each([-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'rejects the number %d',
    (input) => {
      expect(parseDuration(input)).toBeUndefined()
    },
  )

  it.each([
    '5 minutes',
    '5M',
    '5S',
    '5',
    '',
    ' ',
    '-5m',
    '+5m',
    '5mm',
    'm',
    '.5s',
    '5.s',
    '1e3ms',
    'Infinityms',
    'NaNs',
    '5w',
    '5y',
  ])('rejects the string %j', (input) => {
    expect(parseDuration(input)).toBeUndefined()
  })

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['an object', { ms: 5 }],
    ['an array', [5]],
    ['a boolean', true],
    ['a bigint', 5n],
    ['a Date', new Date(0)],
    ['a function', () => 5],
  ])('rejects %s', (_, input) => {
    expect(parseDuration(input)).toBeUndefined()
  })

  it('reads any whole number with any unit as that many units, or rejects it above the maximum', () => {
    const units = Object.keys(UNIT_MS) as DurationUnit[]
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom(...units), (n, unit) => {
        const ms = n * UNIT_MS[unit]
        expect(parseDuration(`${n}${unit}`)).toBe(ms <= MAX_DURATION_MS ? ms : undefined)
      }),
    )
  })

  it('never throws and returns a whole, bounded number or undefined, whatever it is given', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string(), fc.double()), (input) => {
        const ms = parseDuration(input)
        if (ms !== undefined) {
          expect(Number.isInteger(ms)).toBe(true)
          expect(ms).toBeGreaterThanOrEqual(0)
          expect(ms).toBeLessThanOrEqual(MAX_DURATION_MS)
        }
      }),
    )
  })
})

describe('durationExpected', () => {
  it.each(['30d', '25d', '597h', `${MAX_DURATION_MS + 1}ms`, MAX_DURATION_MS + 1, ' 30d '])(
    'names the limit for %j, a well-formed duration past it',
    (input) => {
      expect(durationExpected(input)).toMatch(/^at most about 24\.8 days \(2147483647 ms/)
    },
  )

  it.each(['5 minutes', '5 m', '-5m', -5, Number.POSITIVE_INFINITY, Number.NaN, null, '30w'])(
    'describes the accepted forms for %j, which is not a duration at all',
    (input) => {
      expect(durationExpected(input)).toMatch(/^a duration like '250ms', '10s', '5m', '1h', '1d' or a number/)
    },
  )
})
