/**
 * The entry body stored in a slot: the value plus what the next issues need beside it (tags with the
 * stamp of the load's start, the load's duration for early refresh). Encoded with the serializer.
 * @module
 */
import type { Serializer } from './serializer.js'

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
  return text
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
  const tags = Array.isArray(w.t) && w.t.every((t) => typeof t === 'string') ? w.t : []
  return {
    value: w.v,
    tags,
    loadMs: typeof w.l === 'number' && w.l > 0 ? w.l : 0,
    startedAt: typeof w.s === 'number' && w.s > 0 ? w.s : 0,
  }
}
