import assert from 'node:assert/strict'
import { describe, expect, it } from 'vitest'
import { type Expect, expectFromAssert } from '../../src/testing/index.js'

// The matcher subset the contract suite uses, built on node:assert: each matcher passes where vitest's passes and
// throws where vitest's throws (an AssertionError, or for a value of the wrong type vitest's TypeError).
const portable: Expect = expectFromAssert(assert)
const vitestExpect: Expect = expect

const fails = (check: () => void) => {
  try {
    check()
  } catch (error) {
    return (error as Error).name === 'AssertionError' ? 'failed' : 'threw'
  }
  return 'passed'
}

const cases: [string, (e: Expect) => void, (e: Expect) => void][] = [
  ['toBe', (e) => e(NaN).toBe(NaN), (e) => e({}).toBe({})],
  ['toEqual', (e) => e({ a: [1, { b: null }] }).toEqual({ a: [1, { b: null }] }), (e) => e([1, 2]).toEqual([1, 2, 3])],
  ['toEqual (types)', (e) => e(['1']).toEqual(['1']), (e) => e([1]).toEqual(['1'])],
  [
    'toMatchObject',
    (e) => e({ hits: 1, misses: 2, nested: { a: 1, b: 2 } }).toMatchObject({ hits: 1, nested: { a: 1 } }),
    (e) => e({ hits: 1, misses: 2 }).toMatchObject({ hits: 2 }),
  ],
  [
    'toMatchObject (an error)',
    (e) => e(Object.assign(new Error('x'), { code: 'C' })).toMatchObject({ code: 'C' }),
    (e) => e(Object.assign(new Error('x'), { code: 'C' })).toMatchObject({ code: 'D' }),
  ],
  ['toMatchObject (missing key)', (e) => e({ a: undefined }).toMatchObject({}), (e) => e({}).toMatchObject({ a: 1 })],
  ['toMatch', (e) => e('room2 not cached').toMatch(/room2.*cached/), (e) => e('room2').toMatch(/room3/)],
  ['toMatch (not a string)', (e) => e('1').toMatch(/1/), (e) => e(1).toMatch(/1/)],
  ['toBeUndefined', (e) => e(undefined).toBeUndefined(), (e) => e(null).toBeUndefined()],
  ['toBeGreaterThan', (e) => e(2).toBeGreaterThan(1), (e) => e(1).toBeGreaterThan(1)],
  ['toBeGreaterThanOrEqual', (e) => e(1).toBeGreaterThanOrEqual(1), (e) => e(0).toBeGreaterThanOrEqual(1)],
  ['toBeLessThan', (e) => e(1).toBeLessThan(2), (e) => e(2).toBeLessThan(2)],
  ['toBeLessThanOrEqual', (e) => e(2).toBeLessThanOrEqual(2), (e) => e(3).toBeLessThanOrEqual(2)],
  ['a comparison with undefined', (e) => e(0).toBeLessThan(1), (e) => e(undefined).toBeLessThan(1)],
]

describe('expectFromAssert', () => {
  it.each(cases)('%s passes and fails where vitest’s expect does', (_, passing, failing) => {
    expect([fails(() => passing(vitestExpect)), fails(() => passing(portable))]).toEqual(['passed', 'passed'])
    expect(fails(() => failing(portable))).toBe('failed')
    expect(fails(() => failing(vitestExpect))).not.toBe('passed')
  })
})
