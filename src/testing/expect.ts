/**
 * The matchers the contract suite asks of a test runner's `expect`, and an `expect` built on an assert module for
 * runners that have none (node:test).
 * @module
 */

/**
 * The matchers the contract suite uses: a subset that vitest's, jest's and bun:test's `expect` provide as they are,
 * and that {@link expectFromAssert} builds from `node:assert`. No `.not`, no `.rejects`, no `toThrow`: the suite
 * turns a rejection into a value first and asserts on that.
 */
export interface Matchers {
  /** Same value (`Object.is`). */
  toBe(expected: unknown): void
  /** Deep equality of plain data: objects, arrays, strings, numbers, booleans, null. */
  toEqual(expected: unknown): void
  /** The actual object has every property of `expected` with an equal value (recursively for plain objects). */
  toMatchObject(expected: object): void
  /** A string the regular expression matches. */
  toMatch(expected: RegExp): void
  /** Exactly `undefined`. */
  toBeUndefined(): void
  /** A number above `expected`. */
  toBeGreaterThan(expected: number): void
  /** A number at or above `expected`. */
  toBeGreaterThanOrEqual(expected: number): void
  /** A number below `expected`. */
  toBeLessThan(expected: number): void
  /** A number at or below `expected`. */
  toBeLessThanOrEqual(expected: number): void
}

/** What the suite calls `expect`: vitest's, jest's or bun:test's `expect`, or {@link expectFromAssert}'s. */
export type Expect = (actual: unknown) => Matchers

/**
 * The members of an assert module that {@link expectFromAssert} uses: `node:assert/strict` (Node, Deno, Bun) has
 * them all.
 */
export interface AssertModule {
  /** Throws unless `Object.is(actual, expected)`. */
  strictEqual(actual: unknown, expected: unknown, message?: string): void
  /** Throws unless the two are deeply and strictly equal. */
  deepStrictEqual(actual: unknown, expected: unknown, message?: string): void
  /** Throws unless `value` is truthy. */
  ok(value: unknown, message?: string): void
  /** Throws unless the string matches. */
  match(value: string, regexp: RegExp, message?: string): void
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The part of `actual` that `expected` describes, so one deep comparison shows a readable diff. */
function projection(actual: unknown, expected: unknown): unknown {
  if (isPlainObject(expected) && typeof actual === 'object' && actual !== null) {
    const source = actual as Record<string, unknown>
    return Object.fromEntries(Object.keys(expected).map((key) => [key, projection(source[key], expected[key])]))
  }
  if (Array.isArray(expected) && Array.isArray(actual) && actual.length === expected.length) {
    return actual.map((item, i) => projection(item, expected[i]))
  }
  return actual
}

const show = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value))

/**
 * Builds the suite's `expect` from an assert module, for runners without one.
 * @example
 * import assert from 'node:assert/strict'
 * import { after, describe, it } from 'node:test'
 * import { adapterContract, expectFromAssert } from 'cacheward/testing'
 *
 * adapterContract(() => myAdapter, { describe, it, expect: expectFromAssert(assert), afterAll: after })
 */
export function expectFromAssert(assert: AssertModule): Expect {
  const compare = (actual: unknown, holds: boolean, relation: string, expected: number) =>
    assert.ok(holds, `expected ${show(actual)} to be ${relation} ${expected}`)
  return (actual) => ({
    toBe: (expected) => assert.strictEqual(actual, expected),
    toEqual: (expected) => assert.deepStrictEqual(actual, expected),
    toMatchObject: (expected) => {
      assert.ok(typeof actual === 'object' && actual !== null, `expected an object, got ${show(actual)}`)
      assert.deepStrictEqual(projection(actual, expected), expected)
    },
    toMatch: (expected) => {
      assert.ok(typeof actual === 'string', `expected a string, got ${show(actual)}`)
      assert.match(actual as string, expected)
    },
    toBeUndefined: () => assert.strictEqual(actual, undefined),
    toBeGreaterThan: (n) => compare(actual, (actual as number) > n, 'greater than', n),
    toBeGreaterThanOrEqual: (n) => compare(actual, (actual as number) >= n, 'at least', n),
    toBeLessThan: (n) => compare(actual, (actual as number) < n, 'less than', n),
    toBeLessThanOrEqual: (n) => compare(actual, (actual as number) <= n, 'at most', n),
  })
}
