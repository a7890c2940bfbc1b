import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import * as z from 'zod'
import { createCacheClient } from '../../src/client.js'
import { copyDecoded, decodeEntry, ENTRY_VERSION, type EntryBody, encodeEntry } from '../../src/entry.js'
import { jsonSerializer, type Serializer } from '../../src/serializer.js'

// Any Unicode code point but lone surrogates. (fc.string({ unit: 'binary' }) costs ~600 ms to build.)
const codePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c))

const body = (value: unknown, tags: readonly string[] = [], loadMs = 0): EntryBody => ({ value, tags, loadMs })
const decode = (text: string) => decodeEntry(text, jsonSerializer)
/** The body's value, tags and load time (the fields these tests are about), or undefined. */
const essentials = (b: EntryBody | undefined) => b && { value: b.value, tags: b.tags, loadMs: b.loadMs }
const roundTrip = (b: EntryBody) => essentials(decode(encodeEntry(b, jsonSerializer)))

/** JSON has no -0: it comes back as 0. Everything else in a JSON value survives unchanged. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0
  if (Array.isArray(value)) return value.map(withoutNegativeZero)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]))
  }
  return value
}

/** The kind of merge that turns a `__proto__` key into prototype pollution. */
function naiveMerge(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(source)) {
    const value = source[key]
    if (typeof value === 'object' && value !== null) {
      target[key] ??= {}
      naiveMerge(target[key] as Record<string, unknown>, value as Record<string, unknown>)
    } else {
      target[key] = value
    }
  }
  return target
}

const polluted = () => ({}) as Record<string, unknown>

afterEach(() => {
  // Should a regression pollute the prototype, keep the damage inside the failing test.
  delete (Object.prototype as Record<string, unknown>).polluted
})

describe('encodeEntry / decodeEntry with jsonSerializer', () => {
  it.each([
    ['null', null],
    ['0', 0],
    ['false', false],
    ['an empty string', ''],
    ['a negative float', -12.5],
    ['an empty object', {}],
    ['an empty array', []],
    ['a nested object', { room: { id: 7, members: [{ id: 1, name: 'ada' }], open: true, note: null } }],
    ['an array of mixed values', [1, 'two', null, false, [3], { four: 4 }]],
    ['unicode text', 'za\u017c\u00f3\u0142\u0107 \u65e5\u672c\u8a9e \u{1F600}\u{1F469}\u200d\u{1F467} \u2028\u2029'],
    ['unicode keys', { '\u043a\u043b\u044e\u0447': '\u0437\u043d\u0430\u0447', '\u{1F511}': '\u{1F5DD}' }],
    ['a string that looks like an envelope', '{"w":1,"v":1}'],
  ])('round-trips %s', (_, value) => {
    expect(roundTrip(body(value))).toEqual({ value, tags: [], loadMs: 0 })
  })

  it('round-trips tags and the load time, rounded to whole milliseconds', () => {
    expect(roundTrip(body({ id: 1 }, ['rooms', 'room:1'], 12.6))).toEqual({
      value: { id: 1 },
      tags: ['rooms', 'room:1'],
      loadMs: 13,
    })
  })

  it('keeps the stored text small: no tags field without tags and no load time when it is 0', () => {
    expect(encodeEntry(body(1), jsonSerializer)).toBe(`{"w":${ENTRY_VERSION},"v":1}`)
    expect(encodeEntry(body(1, ['a'], 5), jsonSerializer)).toBe(`{"w":${ENTRY_VERSION},"v":1,"t":["a"],"l":5}`)
  })

  it('drops undefined inside objects, as JSON does [B4]', () => {
    const decoded = roundTrip(body({ a: 1, b: undefined }))
    expect(decoded?.value).toEqual({ a: 1 })
  })

  it.each([
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a BigInt', 10n],
    ['a BigInt nested in an object', { n: 10n }],
  ])('refuses to encode %s', (_, value) => {
    expect(() => encodeEntry(body(value), jsonSerializer)).toThrow(TypeError)
  })

  it('refuses to encode a circular value', () => {
    const circular: Record<string, unknown> = { id: 1 }
    circular.self = circular
    expect(() => encodeEntry(body(circular), jsonSerializer)).toThrow(TypeError)
  })

  it('refuses a serializer that returns no text', () => {
    const silent: Serializer = { serialize: () => '', deserialize: JSON.parse }
    const notText: Serializer = { serialize: () => 42 as unknown as string, deserialize: JSON.parse }
    expect(() => encodeEntry(body(1), silent)).toThrow('the serializer returned no text')
    expect(() => encodeEntry(body(1), notText)).toThrow('the serializer returned no text')
  })

  it.each([
    ['garbage', 'not json at all'],
    ['an empty string', ''],
    ['truncated JSON', '{"w":1,"v":{"id":1,"name":"ro'],
    ['another version', '{"w":2,"v":1}'],
    ['a version as a string', '{"w":"1","v":1}'],
    ['no version', '{"v":1}'],
    ['no value', '{"w":1}'],
    ['JSON null', 'null'],
    ['a JSON number', '1'],
    ['a JSON string', '"{\\"w\\":1,\\"v\\":1}"'],
    ['a JSON array', '[1,1]'],
    ['a cacheward slot header', 'cw1|g||0|0|0|0|0\n'],
  ])('reads %s as no entry instead of throwing', (_, text) => {
    expect(decode(text)).toBeUndefined()
  })

  it('reads a stored null as the value null, not as no entry', () => {
    expect(essentials(decode('{"w":1,"v":null}'))).toEqual({ value: null, tags: [], loadMs: 0 })
  })

  it('ignores malformed tags and load times instead of passing them on', () => {
    expect(essentials(decode('{"w":1,"v":1,"t":[1,"a"],"l":-5}'))).toEqual({ value: 1, tags: [], loadMs: 0 })
    expect(essentials(decode('{"w":1,"v":1,"t":"rooms","l":"12"}'))).toEqual({ value: 1, tags: [], loadMs: 0 })
  })

  it('reads as no entry whatever a custom serializer throws or returns', () => {
    const throwing: Serializer = {
      serialize: JSON.stringify,
      deserialize: () => {
        throw new Error('bad data')
      },
    }
    const scalar: Serializer = { serialize: JSON.stringify, deserialize: () => 42 }
    expect(decodeEntry('{"w":1,"v":1}', throwing)).toBeUndefined()
    expect(decodeEntry('{"w":1,"v":1}', scalar)).toBeUndefined()
  })

  describe('prototype-pollution payloads', () => {
    it('drops a __proto__ key in the value and leaves Object.prototype alone [B5]', () => {
      const decoded = decode('{"w":1,"v":{"__proto__":{"polluted":true},"id":1}}')
      expect(decoded?.value).toEqual({ id: 1 })
      const value = decoded?.value as Record<string, unknown>
      expect(Object.hasOwn(value, '__proto__')).toBe(false)
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect(value.polluted).toBeUndefined()
      naiveMerge({}, value)
      expect(polluted().polluted).toBeUndefined()
    })

    it('drops __proto__ at the top level and nested deep, with any spacing', () => {
      const decoded = decode('{"w":1,"__proto__":{"polluted":1},"v":[{"a":{"__proto__" :\n{"polluted":1}}}]}')
      expect(essentials(decoded)).toEqual({ value: [{ a: {} }], tags: [], loadMs: 0 })
      expect(polluted().polluted).toBeUndefined()
    })

    it('drops a nested constructor.prototype and leaves Object.prototype alone', () => {
      const decoded = decode('{"w":1,"v":{"a":{"constructor":{"prototype":{"polluted":true}}}}}')
      expect(decoded?.value).toEqual({ a: {} })
      naiveMerge({}, decoded?.value as Record<string, unknown>)
      expect(polluted().polluted).toBeUndefined()
    })

    it('keeps an ordinary constructor field that carries no prototype', () => {
      expect(decode('{"w":1,"v":{"constructor":"Ada"}}')?.value).toEqual({ constructor: 'Ada' })
    })

    // Bug (src/serializer.ts): the RISKY pre-check scans the raw text for "__proto__" / "constructor", so a key
    // written with a JSON escape ("\u005f_proto__", "\u0063onstructor") skips the reviver, and JSON.parse then
    // creates an own "__proto__" key. Failing input: '{"w":1,"v":{"\u005f_proto__":{"polluted":true}}}'.
    it('drops a __proto__ key even when the payload spells it with a JSON escape', () => {
      const value = decode('{"w":1,"v":{"\\u005f_proto__":{"polluted":true}}}')?.value as object
      expect(Object.keys(value)).toEqual([])
      const ctor = decode('{"w":1,"v":{"\\u0063onstructor":{"prototype":{"polluted":true}}}}')?.value as object
      expect(Object.keys(ctor)).toEqual([])
    })
  })

  describe('Dates', () => {
    const at = new Date(Date.UTC(2026, 0, 7, 9, 30, 0, 125))
    const iso = '2026-01-07T09:30:00.125Z'

    it('gives back a Date where the value held one: at the top, in objects, in arrays', () => {
      const value = {
        at,
        rows: [
          { id: 1, createdAt: at },
          { id: 2, createdAt: new Date(0) },
        ],
        note: null,
      }
      const decoded = roundTrip(body(value))?.value as typeof value
      expect(decoded).toEqual(value)
      expect(decoded.at).toBeInstanceOf(Date)
      expect(decoded.rows[1]?.createdAt).toBeInstanceOf(Date)
      expect(roundTrip(body(at))?.value).toEqual(at)
      expect(roundTrip(body([at, 1]))?.value).toEqual([at, 1])
    })

    it('leaves strings that look like timestamps as strings', () => {
      const value = { at, text: iso, list: [iso], d: [['v', 'text']], v: iso }
      const decoded = roundTrip(body(value))?.value as typeof value
      expect(decoded).toEqual(value)
      expect(decoded.text).toBe(iso)
      expect(decoded.v).toBe(iso)
    })

    it('keeps Dates of any year JavaScript allows, and one Date object met twice', () => {
      const far = [new Date(-8.64e15), new Date(8.64e15), new Date(Date.UTC(-1, 0, 1)), new Date(Date.UTC(12345, 0, 1))]
      expect(roundTrip(body(far))?.value).toEqual(far)
      const shared = { a: at, b: at }
      expect(roundTrip(body(shared))?.value).toEqual({ a: at, b: at })
    })

    it('gives back an invalid Date as null, as JSON writes it', () => {
      expect(roundTrip(body({ at: new Date(Number.NaN), ok: at }))?.value).toEqual({ at: null, ok: at })
    })

    it('stores the paths beside the value, so a reader that predates them sees the strings', () => {
      // An older reader ignores "d" and reads exactly what it read before Dates were kept: a rolling deploy
      // can run both versions on one namespace.
      expect(encodeEntry(body({ at, n: 1 }), jsonSerializer)).toBe(
        `{"w":${ENTRY_VERSION},"v":{"at":"${iso}","n":1},"d":[["v","at"]]}`,
      )
      expect(encodeEntry(body({ text: iso }), jsonSerializer)).toBe(`{"w":${ENTRY_VERSION},"v":{"text":"${iso}"}}`)
    })

    it('reads an entry written before Dates were kept: its timestamps stay strings', () => {
      expect(decode(`{"w":1,"v":{"at":"${iso}"}}`)?.value).toEqual({ at: iso })
    })

    it('leaves Dates to a custom serializer: it gets the same entry as before, with no paths', () => {
      const seen: unknown[] = []
      const custom: Serializer = {
        serialize: (value) => {
          seen.push(value)
          return JSON.stringify(value)
        },
        deserialize: JSON.parse,
      }
      const text = encodeEntry(body({ at }), custom)
      expect(seen).toEqual([{ w: ENTRY_VERSION, v: { at } }])
      expect(decodeEntry(text, custom)?.value).toEqual({ at: iso })
    })

    describe('forged paths', () => {
      it.each([
        ['into __proto__', '{"w":1,"v":{"a":"2026-01-07T09:30:00.125Z"},"d":[["v","__proto__","polluted"]]}'],
        [
          'into a dropped __proto__ key',
          '{"w":1,"v":{"__proto__":{"polluted":"2026-01-07T09:30:00.125Z"}},"d":[["v","__proto__","polluted"]]}',
        ],
        ['into constructor.prototype', '{"w":1,"v":{},"d":[["v","constructor","prototype","polluted"]]}'],
        ['onto an inherited method', '{"w":1,"v":{},"d":[["v","toString"],["v","hasOwnProperty"]]}'],
        ['outside the value', '{"w":1,"v":{},"t":["2026-01-07T09:30:00.125Z"],"d":[["t",0],["w"],[]]}'],
        ['of the wrong shape', '{"w":1,"v":{"a":"2026-01-07T09:30:00.125Z"},"d":[[{"v":1}],"v",[["v"]],[null]]}'],
        ['as a string', '{"w":1,"v":{"a":"2026-01-07T09:30:00.125Z"},"d":"v.a"}'],
      ])('change nothing when they lead %s', (_, text) => {
        const decoded = decode(text)
        expect(decoded).toBeDefined()
        const value = decoded?.value as Record<string, unknown>
        expect(Object.values(value).some((x) => x instanceof Date)).toBe(false)
        expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
        expect(decoded?.tags.every((t) => typeof t === 'string')).toBe(true)
        naiveMerge({}, value)
        expect(polluted().polluted).toBeUndefined()
        expect(typeof Object.prototype.toString).toBe('function')
      })

      it('turn nothing but a timestamp string into a Date', () => {
        const text =
          '{"w":1,"v":{"n":5,"s":"5","o":{},"bad":"2026-13-45T99:99:99.999Z"},"d":[["v","n"],["v","s"],["v","o"],["v","bad"]]}'
        expect(decode(text)?.value).toEqual({ n: 5, s: '5', o: {}, bad: '2026-13-45T99:99:99.999Z' })
      })
    })

    it('any record of Dates and text round-trips to equal Dates', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              at: fc.date({ noInvalidDate: true }),
              name: fc.string(),
              later: fc.option(fc.date({ noInvalidDate: true })),
            }),
          ),
          (rows) => {
            const decoded = roundTrip(body({ rows }))?.value as { rows: typeof rows }
            expect(decoded).toEqual({ rows })
            for (const row of decoded.rows) expect(row.at).toBeInstanceOf(Date)
          },
        ),
        { numRuns: 200 },
      )
    })
  })

  describe('Dates through a client', () => {
    it('a hit returns the Date the miss returned, and a z.date() schema hits instead of reloading', async () => {
      const cache = createCacheClient({ namespace: 'dates' })
      const at = new Date(Date.UTC(2026, 0, 7))
      const Row = z.object({ id: z.number(), at: z.date() })
      let loads = 0
      const load = () => {
        loads++
        return { id: 1, at }
      }
      const miss = await cache.getOrSet('row:1', load, { schema: Row })
      const hit = await cache.getOrSet('row:1', load, { schema: Row })
      expect(miss.at).toBeInstanceOf(Date)
      expect(hit.at).toBeInstanceOf(Date)
      expect(hit.at.getTime()).toBe(at.getTime())
      expect(loads).toBe(1)
      await cache.set('plain', { at })
      expect(await cache.get<{ at: Date }>('plain')).toEqual({ at })
      await cache.close()
    })
  })

  describe('properties', () => {
    const risky = /"(?:__proto__|constructor)"/

    it('any JSON value round-trips to an equal value (-0 comes back as 0)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.array(fc.string({ minLength: 1 }), { maxLength: 4 }), (value, tags) => {
          // __proto__ and constructor.prototype keys are dropped on purpose (tested above).
          fc.pre(!risky.test(JSON.stringify(value)))
          const decoded = roundTrip(body(value, tags, 3))
          expect(decoded).toEqual({ value: withoutNegativeZero(value), tags, loadMs: 3 })
        }),
        { numRuns: 300 },
      )
    })

    it('no decoded value keeps a __proto__ key or a constructor.prototype, however the text spells them', () => {
      type Node = number | Node[] | { entries: [string, Node][] }
      const key = fc.constantFrom('__proto__', 'constructor', 'prototype', 'id', 'a_b')
      const { node } = fc.letrec<{ node: Node }>((tie) => ({
        node: fc.oneof(
          { depthSize: 'small' },
          fc.integer(),
          fc.array(tie('node'), { maxLength: 3 }),
          fc.record({ entries: fc.array(fc.tuple(key, tie('node')), { maxLength: 3 }) }),
        ),
      }))
      const write = (n: Node): string =>
        typeof n === 'number'
          ? String(n)
          : Array.isArray(n)
            ? `[${n.map(write).join(',')}]`
            : `{${n.entries.map(([k, v]) => `${JSON.stringify(k)}:${write(v)}`).join(',')}}`
      // These letters appear only inside strings (never in true, false, null or a number), so escaping any of them
      // keeps the text the same JSON.
      const spellEscaped = (text: string, mask: boolean[]) =>
        [...text]
          .map((ch, i) => ('_cpo'.includes(ch) && mask[i % mask.length] ? `\\u00${ch.charCodeAt(0).toString(16)}` : ch))
          .join('')
      const check = (value: unknown): void => {
        if (typeof value !== 'object' || value === null) return
        if (Array.isArray(value)) {
          for (const item of value) check(item)
          return
        }
        expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
        expect(Object.hasOwn(value, '__proto__')).toBe(false)
        const ctor = (value as Record<string, unknown>).constructor
        if (Object.hasOwn(value, 'constructor') && typeof ctor === 'object' && ctor !== null) {
          expect(Object.hasOwn(ctor, 'prototype')).toBe(false)
        }
        for (const k of Object.keys(value)) check((value as Record<string, unknown>)[k])
      }
      fc.assert(
        fc.property(node, fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), (tree, mask) => {
          const decoded = decode(spellEscaped(`{"w":1,"v":${write(tree)}}`, mask))
          expect(decoded).toBeDefined()
          check(decoded?.value)
        }),
        { numRuns: 500 },
      )
    })

    it('decoding never throws, whatever the text', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.json({ maxDepth: 2 }), fc.string({ unit: codePoint })), (text) => {
          decode(text)
        }),
        { numRuns: 300 },
      )
    })
  })
})

/** Every object (and array, and Date) inside a value, each once. */
function objectsIn(value: unknown, out = new Set<object>()): Set<object> {
  if (typeof value !== 'object' || value === null || out.has(value)) return out
  out.add(value)
  for (const item of Object.values(value)) objectsIn(item, out)
  return out
}

describe("copyDecoded (the memory store's hits: one decode per entry, a copy per caller)", () => {
  it('gives what decoding the text again gives, key order and Dates included, sharing no object with its source', () => {
    const withDates = fc.oneof(fc.jsonValue(), fc.date({ noInvalidDate: true }))
    const value = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(fc.string(), withDates),
      fc.array(fc.record({ at: fc.date({ noInvalidDate: true }), v: fc.jsonValue() })),
    )
    fc.assert(
      fc.property(value, (v) => {
        const text = encodeEntry(body(v), jsonSerializer)
        const source = decode(text)?.value
        const copy = copyDecoded(source)
        const again = decode(text)?.value
        expect(copy).toStrictEqual(again)
        expect(JSON.stringify(copy)).toBe(JSON.stringify(again))
        const shared = [...objectsIn(copy)].filter((o) => objectsIn(source).has(o))
        expect(shared).toEqual([])
      }),
      { numRuns: 500 },
    )
  })

  it('keeps a __proto__ key an own data property, never a prototype', () => {
    const source = JSON.parse('{"__proto__":{"polluted":true},"a":[{"__proto__":{"polluted":true}}]}') as object
    const copy = copyDecoded(source) as { a: object[] }
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.getPrototypeOf(copy.a[0])).toBe(Object.prototype)
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
    expect(Object.keys(copy)).toEqual(['__proto__', 'a'])
  })
})
