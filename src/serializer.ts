/**
 * How entry bodies become strings. JSON by default; decoding never lets `__proto__` reach a prototype.
 * @module
 */

/**
 * Turns entry bodies into strings and back. Plug in superjson or similar for Maps, Sets and BigInts; a custom
 * serializer is in charge of Dates too (the default one's Dates are kept by the entry codec).
 */
export interface Serializer {
  /** Encodes an entry body; must return a non-empty string, and throw for a value it cannot encode. */
  serialize(value: unknown): string
  /** Decodes what {@link Serializer.serialize} produced. */
  deserialize(text: string): unknown
}

// Only bodies that could hold these keys pay for the reviver: a scan is far cheaper than a reviver. JSON can spell a
// key's letters only as themselves or as a `\u` escape (`"\u005f_proto__"` parses to `__proto__`), so the text
// holds one of these three or neither key. Whole-word needles search fastest (measured over the bench's 1 KB body,
// CPU time: three `includes` of these ~0.2 µs; of `proto`, `onstructor` and `\u` ~0.67 µs; one regular
// expression of the three short ones ~0.69 µs).
const risky = (text: string) => text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')

function reviver(key: string, value: unknown): unknown {
  if (key === '__proto__') return undefined
  if (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value) return undefined
  return value
}

/**
 * JSON. `undefined` inside objects is dropped and Dates become strings, as with `JSON.stringify` (the entry codec
 * records where the Dates were and turns those strings back, for this serializer only);
 * BigInt and circular values throw (the client then returns the value without caching it).
 * `__proto__` keys and `constructor.prototype` are removed on decode (prototype-pollution payloads).
 */
export const jsonSerializer: Serializer = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => (risky(text) ? JSON.parse(text, reviver) : JSON.parse(text)),
}
