/**
 * The entry body stored in a slot: the value plus what the next issues need beside it (tags with the
 * stamp of the load's start, the load's duration for early refresh). Encoded with the serializer.
 * @module
 */
import { jsonSerializer, type Serializer } from './serializer.js'

/** Body format version; a body of another version is treated as foreign data (a miss). */
export const ENTRY_VERSION = 1

/** What a slot's body holds. */
export interface EntryBody<T = unknown> {
  value: T
  /** Tags the entry carries. */
  tags: readonly string[]
  /** How long the load took (ms), for probabilistic early refresh. */
  loadMs: number
  /**
   * Backend time the load began (ms), compared with tag invalidation stamps; 0 for `set()`, whose
   * entries count from the slot's `createdAt`.
   */
  startedAt?: number
}

interface Wire {
  /** format version */
  w: number
  /** value */
  v: unknown
  /** tags, omitted when none */
  t?: string[]
  /** load time ms */
  l?: number
  /** load start, backend ms */
  s?: number
  /**
   * Where the value held Dates (default serializer only): one path per Date, from the wire object, so
   * `["v", 0, "createdAt"]`. JSON writes a Date as its ISO string; decoding turns those strings back. Kept
   * beside the value, never inside it, so no user data can be mistaken for a Date; an older reader ignores
   * it and sees the strings, as before.
   */
  d?: (string | number)[][]
}

/** The tail of every `toISOString()` in JSON text: a body without one holds no Date, so no walk is needed. */
const ISO_TAIL = /:\d\d\.\d{3}Z"/

/** Collects the path of every valid Date JSON writes as an ISO string (an invalid one becomes `null`, as in JSON). */
function datePaths(value: unknown, path: (string | number)[], out: (string | number)[][]): void {
  if (typeof value !== 'object' || value === null) return
  if (value instanceof Date) {
    if (value.toJSON === Date.prototype.toJSON && !Number.isNaN(value.getTime())) out.push([...path])
  } else if (typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    for (const k of Array.isArray(value) ? value.keys() : Object.keys(value)) {
      path.push(k)
      datePaths((value as Record<string | number, unknown>)[k], path, out)
      path.pop()
    }
  }
}

/** `holder[k]` when it is an own property of an object (never `__proto__`), else undefined. */
function own(holder: unknown, k: unknown): unknown {
  if (typeof holder !== 'object' || holder === null || k === '__proto__') return undefined
  return (typeof k === 'string' || typeof k === 'number') && Object.hasOwn(holder, k)
    ? (holder as Record<string | number, unknown>)[k]
    : undefined
}

/**
 * Turns the ISO strings that `d` points at back into Dates, in place. A path that does not lead, through own
 * properties of the value, to an ISO timestamp changes nothing: a forged `d` can replace such a string with a
 * Date and nothing else, never a prototype, never anything outside the value.
 */
function reviveDates(wire: Wire, d: unknown): void {
  if (!Array.isArray(d)) return
  for (const path of d) {
    if (!Array.isArray(path) || path[0] !== 'v') continue
    let holder: unknown = wire
    for (const k of path.slice(0, -1)) holder = own(holder, k)
    const key = path[path.length - 1] as string | number
    const text = own(holder, key)
    if (typeof text !== 'string') continue
    // Only the exact text toISOString() writes: any other string stays a string.
    const date = new Date(text)
    if (!Number.isNaN(date.getTime()) && date.toISOString() === text)
      (holder as Record<string | number, unknown>)[key] = date
  }
}

/** Encodes a body; throws when the serializer cannot encode the value (BigInt, circular, function). */
export function encodeEntry(body: EntryBody, serializer: Serializer): string {
  const type = typeof body.value
  if (body.value === undefined || type === 'function' || type === 'symbol') {
    throw new TypeError(`a ${type} cannot be cached`)
  }
  // A top-level toJSON() that gives nothing (or what JSON drops) would store an entry without a value,
  // read back as corrupt data on every later call: refuse it here, once per load, instead.
  const toJSON = (body.value as { toJSON?: unknown } | null)?.toJSON
  if (typeof toJSON === 'function') {
    const json: unknown = toJSON.call(body.value, '')
    if (json === undefined || typeof json === 'function' || typeof json === 'symbol') {
      throw new TypeError('its toJSON() returns nothing JSON can store')
    }
  }
  const wire: Wire = { w: ENTRY_VERSION, v: body.value }
  if (body.tags.length > 0) wire.t = [...body.tags]
  if (body.loadMs > 0) wire.l = Math.round(body.loadMs)
  if (body.startedAt) wire.s = body.startedAt
  const text = serializer.serialize(wire)
  if (typeof text !== 'string' || text.length === 0) throw new TypeError('the serializer returned no text')
  if (serializer !== jsonSerializer || !ISO_TAIL.test(text)) return text
  const d: (string | number)[][] = []
  datePaths(body.value, ['v'], d)
  // The text is the wire object's JSON, so `d` goes in before its closing brace: no second stringify.
  return d.length === 0 ? text : `${text.slice(0, -1)},"d":${JSON.stringify(d)}}`
}

/** Decodes a body; `undefined` when it is corrupt or foreign (never throws). */
export function decodeEntry(text: string, serializer: Serializer): Required<EntryBody> | undefined {
  let wire: unknown
  try {
    wire = serializer.deserialize(text)
  } catch {
    return undefined
  }
  if (typeof wire !== 'object' || wire === null) return undefined
  const w = wire as Partial<Wire>
  if (w.w !== ENTRY_VERSION || !('v' in w) || w.v === undefined) return undefined
  if (w.d !== undefined && serializer === jsonSerializer) reviveDates(w as Wire, w.d)
  const tags = Array.isArray(w.t) && w.t.every((t) => typeof t === 'string') ? w.t : []
  return {
    value: w.v,
    tags,
    loadMs: typeof w.l === 'number' && w.l > 0 ? w.l : 0,
    startedAt: typeof w.s === 'number' && w.s > 0 ? w.s : 0,
  }
}

/**
 * A new copy of a value the default JSON codec decoded (plain objects, arrays, primitives, the Dates it revives):
 * what parsing the same text again would give, with strings shared (they are immutable), at a fraction of a parse's
 * cost (1 KB here: ~0.7–2 µs against ~5–8 µs). Never for values of another serializer, whose types this cannot know.
 */
export function copyDecoded(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    const out = value.slice()
    for (let i = 0; i < out.length; i++) {
      const item: unknown = out[i]
      if (typeof item === 'object' && item !== null) out[i] = copyDecoded(item)
    }
    return out
  }
  if (value instanceof Date) return new Date(value.getTime())
  // A spread copies an object of one shape in one step (faster than adding keys one by one), and defines its keys
  // as data properties: a `__proto__` key, were the decoder ever to leave one, could not reach a prototype.
  const out: Record<string, unknown> = { ...value }
  for (const key in out) {
    const item = out[key]
    if (typeof item === 'object' && item !== null) out[key] = copyDecoded(item)
  }
  return out
}
