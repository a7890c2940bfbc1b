/**
 * What a read yields: a slot's entry decoded, checked against its tags and the call's schema; the cheap
 * hit for keys recently found fresh (a plain GET judged on the learned backend clock); and `get`, a read
 * that never loads.
 * @module
 */
import type { Slot } from './adapters/adapter.js'
import { isPacked, MAX_INFLATION, unpack } from './compress.js'
import { type Call, type Core, countServed, type Outcome, reportBackendError } from './core.js'
import { copyDecoded, decodeEntry, type EntryBody } from './entry.js'
import { classify } from './freshness.js'
import { deepFreeze } from './l1.js'
import type { ResolvedCall } from './options.js'
import { jsonSerializer } from './serializer.js'
import { validate } from './standard-schema.js'
import { readTagStamps, type TagStamps, tagKeys, tagsAllow } from './tags.js'
import { now } from './telemetry.js'

/** What {@link freshHit} returns when it cannot answer synchronously. */
export const NO_HIT: unique symbol = Symbol('no hit')

/**
 * A fresh hit from an in-process store, answered synchronously (no promise chain, no timer, no flight): the value
 * decoded, its tags checked against the store's stamps, the call's schema run when it answers synchronously.
 * {@link NO_HIT} for anything else (absent, not fresh, undecodable, a tag missing or newer, an async schema), which
 * the full path then handles, reporting what needs reporting.
 */
export function freshHit(c: Omit<Call, 'core'> & { core: Core }): unknown {
  const { backend } = c.core
  const found = (backend.freshSync as NonNullable<typeof backend.freshSync>)(c.full)
  // A compressed body needs gzip, which is asynchronous everywhere: the full path unpacks it.
  if (found === undefined || isPacked(found.slot.body)) return NO_HIT
  const json = c.core.serializer === jsonSerializer
  const entry = json ? decodedOnce(found.slot) : decodeEntry(found.slot.body, c.core.serializer)
  if (entry === undefined) return NO_HIT
  if (entry.tags.length > 0) {
    const stamps = backend.stampsSync?.(tagKeys(c, entry.tags))
    const began = entry.startedAt || found.slot.createdAt
    if (!stamps || stamps.some((stamp) => stamp === undefined || stamp >= began)) return NO_HIT
  }
  // Every hit shares the one decoded value, deeply frozen as the tier's are (docs/09). A schema gets its own copy: it
  // may change its input, and its output (usually a new object) is the caller's, as it is after a Redis read.
  const schema = c.call.schema
  if (schema === undefined) return entry.value
  const checked = schema['~standard'].validate(json ? copyDecoded(entry.value) : entry.value)
  if (checked instanceof Promise || checked.issues) return NO_HIT
  return checked.value
}

// An in-process store's fresh slots, decoded once: the store replaces a slot object whenever it changes (the body is
// compared all the same, for stores that might not), so a slot's tree lives as long as the store keeps the slot.
const decodedSlots = new WeakMap<Slot, { body: string; entry: Required<EntryBody> }>()

/**
 * The entry of a slot from {@link freshHit}'s store, decoded by the default JSON codec at most once per slot, its value
 * deeply frozen: every hit of the slot returns it.
 */
function decodedOnce(slot: Slot): Required<EntryBody> | undefined {
  const memo = decodedSlots.get(slot)
  if (memo !== undefined && memo.body === slot.body) return memo.entry
  const entry = decodeEntry(slot.body, jsonSerializer)
  // Kept (and shared) only once frozen; a tree too deep to freeze is decoded again by every hit.
  if (entry !== undefined && deepFreeze(entry.value)) decodedSlots.set(slot, { body: slot.body, entry })
  return entry
}

/** An entry fit to serve, `'invalidated'` (a tag was invalidated after its load began), or nothing usable. */
export type Usable = Required<EntryBody> | 'invalidated' | undefined

/**
 * Puts what a read found fresh into the in-process tier (when this call's namespace uses it), unless its
 * key or one of its tags was dropped since the call took its ticket. The value is deeply frozen there: the
 * caller gets the very object later hits get.
 */
export function fillTier(c: Call, slot: Slot, entry: Required<EntryBody>): void {
  const l1 = c.core.l1
  const use = c.scope.l1
  if (l1 === undefined || use === false || c.ticket === undefined) return
  const entryTags = entry.tags.length === 0 ? NO_TAGS : tagKeys(c, entry.tags)
  l1.fill(
    c.full,
    {
      value: entry.value,
      freshUntil: slot.freshUntil,
      staleUntil: slot.staleUntil,
      errorUntil: slot.errorUntil,
      tagKeys: entryTags,
      startedAt: entry.startedAt || slot.createdAt,
      loadMs: entry.loadMs,
      schema: c.call.schema,
    },
    c.ticket,
    slot.body.length,
    use.ttl ?? l1.settings.ttl,
  )
}

const NO_TAGS: readonly string[] = Object.freeze([])

/** Remembers that `full` holds a fresh entry, so its next read can be a plain peek. */
export function markPresent(c: Call): void {
  const { core } = c
  if (!core.backend.canPeek(false)) return
  core.present.add(c.full)
}

/**
 * Decodes and validates the entry of a slot. `undefined` when there is none or it is unusable
 * (corrupt: reported; failing the schema), `'invalidated'` when a tag it carries was invalidated
 * after its load began. `known` holds stamps already read for the call's own tags.
 */
export function usableEntry(c: Call, slot: Slot | null, known?: TagStamps): Usable | Promise<Usable> {
  if (!slot || slot.body === '') return undefined
  // Compressed (by this client or another, `compress` on or off here): unpacked first; bad gzip is corrupt data,
  // and so is a body that inflates far past what this namespace would store.
  if (isPacked(slot.body)) {
    return unpack(slot.body, c.scope.maxValueBytes * MAX_INFLATION).then(
      (body) => usableBody(c, slot, body, known),
      () => usableBody(c, slot, undefined, known),
    )
  }
  return usableBody(c, slot, slot.body, known)
}

/** {@link usableEntry} once the body is as the serializer wrote it (`undefined`: it could not be unpacked). */
function usableBody(c: Call, slot: Slot, body: string | undefined, known?: TagStamps): Usable | Promise<Usable> {
  const entry = body === undefined ? undefined : decodeEntry(body, c.core.serializer)
  if (!entry) {
    reportBackendError(c.core, c.scope, 'decode', c.key, new Error('corrupted or foreign entry; treated as a miss'))
    return undefined
  }
  if (entry.tags.length === 0) return c.call.schema ? checkSchema(c, entry) : entry
  if (known === null) return 'invalidated'
  // Entries written by set() count from the tag read just before their write.
  const began = entry.startedAt || slot.createdAt
  const missing = known ? entry.tags.filter((t) => !known.has(t)) : entry.tags
  const settle = (fetched: Map<string, number> | undefined): Usable | Promise<Usable> => {
    if (!tagsAllow(entry.tags, began, known, fetched)) return 'invalidated'
    return c.call.schema ? checkSchema(c, entry) : entry
  }
  if (missing.length === 0) return settle(undefined)
  return readTagStamps(c, missing).then((fetched) => (fetched === null ? 'invalidated' : settle(fetched)))
}

/** The stored value is the schema's input: the schema runs on every read, so a hit gets what the miss got. */
async function checkSchema(c: Call, entry: Required<EntryBody>): Promise<Usable> {
  const checked = await validate(c.call.schema as NonNullable<ResolvedCall['schema']>, entry.value)
  return checked.ok ? { ...entry, value: checked.value } : undefined
}

/**
 * The cheap hit: a plain GET for a key recently found fresh, judged against the backend clock as
 * learned from script replies (a lower bound of it). Anything that is not clearly a fresh, valid entry
 * returns undefined and the caller takes the full read-or-lock path.
 */
export async function peekHit(c: Call): Promise<Outcome | undefined> {
  const { backend } = c.core
  const { tags } = c.call
  let slot: Slot | null | 'garbage'
  let known: Map<string, number> | undefined
  if (tags.length === 0) {
    slot = await backend.peek(c.full)
  } else {
    const keys = tagKeys(c, tags)
    const reply = await backend.peekTagged(c.full, keys)
    if (c.ticket !== undefined) c.core.l1?.noteStamps(keys, reply.stamps, c.ticket)
    // A missing tag record is never trusted (nor created here): the full read creates it.
    if (reply.stamps.some((stamp) => stamp === null)) return undefined
    slot = reply.slot
    known = new Map(tags.map((tag, i) => [tag, reply.stamps[i] as number]))
  }
  // Judged once the reply is in, on the learned clock (a lower bound of the backend's): never older than the read.
  const backendNow = backend.now(c.full)
  if (slot === null || slot === 'garbage' || slot.body === '' || backendNow === undefined) return undefined
  if (backendNow >= slot.freshUntil) return undefined
  const checked = usableEntry(c, slot, known)
  const found = checked instanceof Promise ? await checked : checked
  if (!found || found === 'invalidated') return undefined
  fillTier(c, slot, found)
  return { value: found.value, kind: 'hit' }
}

/**
 * `get`, `has` and `getMany`: the fresh entry (or a stale one with `allowStale`), never a load. Foreign,
 * corrupted or schema-failing data is a miss and is removed (`remove`, best effort). Counts the call
 * when `counted` (has() does not).
 */
export async function readOnly(
  c: Call,
  enabled: boolean,
  counted: boolean,
  remove: () => Promise<unknown>,
): Promise<unknown> {
  const startedAt = now()
  let value: unknown
  let kind: Outcome['kind'] = 'miss'
  const { l1 } = c.core
  if (enabled && l1 !== undefined && c.scope.l1 !== false) {
    l1.listen()
    const entry = l1.get(c.full, startedAt)
    if (entry !== undefined && entry.schema === c.call.schema) {
      const backendNow = c.core.backend.at(startedAt, c.full) as number
      const servable = Math.max(entry.staleUntil, entry.errorUntil)
      const state =
        backendNow < entry.freshUntil ? 'hit' : c.call.allowStale && backendNow < servable ? 'stale' : 'miss'
      if (state !== 'miss') {
        if (counted) c.core.telemetry.served(c.key, c.scope.namespace, c.call.category, state, startedAt, 'l1')
        return entry.value
      }
    }
    c.ticket = l1.ticket()
  }
  if (enabled) {
    try {
      const reply = await c.core.backend.read(c.full)
      const entry = await usableEntry(c, reply.slot)
      if (entry === 'invalidated') {
        // A tag was invalidated after this entry's load began: a miss; the next load replaces it.
      } else if (reply.garbage || (reply.slot && reply.slot.body !== '' && !entry)) {
        if (reply.garbage)
          reportBackendError(c.core, c.scope, 'read', c.key, new Error('foreign data at key; treated as a miss'))
        // Awaited (this is rare): a call that follows must find the tombstone, not the garbage, or its load
        // would be fenced on the garbage's generation and refused when the tombstone lands after it.
        await remove().catch(() => {})
      } else if (entry && reply.slot) {
        const state = classify(reply.slot, reply.now)
        if (state === 'fresh') {
          kind = 'hit'
          fillTier(c, reply.slot, entry)
        } else if (c.call.allowStale && state !== 'expired') kind = 'stale'
        if (kind !== 'miss') value = entry.value
      }
    } catch (error) {
      reportBackendError(c.core, c.scope, 'read', c.key, error)
    }
  }
  if (counted) countServed(c, kind, startedAt)
  return value
}
