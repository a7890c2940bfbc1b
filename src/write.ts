/**
 * The one write path, for `getOrSet`'s loads and for `set()`: encode, make sure the tag records exist,
 * and send one write that the backend checks atomically (fence, deadline, tags) before it lands.
 * @module
 */
import type { Fence, WriteRequest, WriteResult } from './adapters/adapter.js'
import { type Packed, pack } from './compress.js'
import { type Call, FENCE_WINDOW_MS, reportBackendError, siteOf } from './core.js'
import { encodeEntry } from './entry.js'
import { CacheTimeoutError, CacheValueError, CacheValueTooLargeError } from './errors.js'
import { expiryOf, jitter } from './freshness.js'
import { replicated, tombstone } from './invalidate.js'
import { releaseQuietly } from './lock.js'
import { markPresent } from './read.js'
import { TAG_TTL_MS, type TagStamps, tagKeys, tagStart } from './tags.js'
import { randomToken } from './token.js'

/** How one entry is written. */
interface EntryWrite {
  /** Fresh period (ms), after jitter. */
  ttl: number
  tags: readonly string[]
  /** Backend time the entry counts from, compared with its tags' stamps. */
  startedAt: number
  fence: Fence | null
  /** The lock the writer holds, released by the write. */
  token?: string | null
  /** Backend time after which the write must not land. */
  deadline?: number
}

/** Encodes an entry body; a value the serializer cannot encode throws a {@link CacheValueError}. */
function encode(c: Call, value: unknown, tags: readonly string[], loadMs: number, startedAt: number): string {
  try {
    return encodeEntry({ value, tags, loadMs, startedAt }, c.core.serializer)
  } catch (error) {
    throw new CacheValueError(c.key, error instanceof Error ? error.message : String(error))
  }
}

/**
 * The form a body is stored in (compressed when `compress` says so), or its size when that is over the
 * namespace's `maxValueBytes`: then counted and emitted as `oversized`, and the caller stores nothing.
 */
function storable(c: Call, body: string, operation: 'getOrSet' | 'set'): Stored | Promise<Stored> {
  const limit = c.scope.maxValueBytes
  const sized = (packed: Packed): Stored => {
    if (packed.bytes <= limit) return packed.body
    c.core.telemetry.oversized(siteOf(c), packed.bytes, limit, operation)
    return { over: packed.bytes }
  }
  // Synchronous unless gzip runs: a small miss's write path gains no extra turn of the event loop.
  const packing = pack(body, c.core.compression, limit)
  return packing instanceof Promise ? packing.then(sized) : sized(packing)
}

/** A body's stored form, or how many bytes it would have taken when that is over `maxValueBytes`. */
type Stored = string | { over: number }

/** `set()`'s stored form of `body`; rejects with {@link CacheValueTooLargeError} when it is over the limit. */
async function storableGiven(c: Call, body: string): Promise<string> {
  const stored = await storable(c, body, 'set')
  if (typeof stored !== 'string') throw new CacheValueTooLargeError(c.key, stored.over, c.scope.maxValueBytes)
  return stored
}

/** Sends one entry write: the backend checks the fence, the deadline and the tag records in the same step. */
function writeEntry(c: Call, body: string, w: EntryWrite): Promise<WriteResult> {
  const { staleWhileRevalidate, staleIfError } = c.call.policy
  const request: WriteRequest = {
    fence: w.fence,
    gen: randomToken(),
    ttl: w.ttl,
    staleWhileRevalidate,
    staleIfError,
    expireIn: expiryOf(w.ttl, staleWhileRevalidate, staleIfError),
    body,
  }
  if (w.deadline !== undefined) request.deadline = w.deadline
  if (w.token) request.token = w.token
  if (w.tags.length > 0) request.tags = { keys: tagKeys(c, w.tags), startedAt: w.startedAt, ttl: TAG_TTL_MS }
  c.core.l1?.own(request.gen)
  return c.core.backend.write(c.full, request)
}

/** What a load stores, beside its value. */
export interface Loaded {
  ttl: number
  tags: readonly string[]
  loadMs: number
  /** Backend time the load began, on the clock that stamps the call's tags when they were read (`known`). */
  startedAt: number
  /** This process's monotonic time (`now()`) when the loader began. */
  loadBegan: number
  fence: Fence
  token: string | null
  /** Stamps of the call's tags read beside the entry, when they were. */
  known: TagStamps | undefined
}

/**
 * Stores what a loader returned (the schema's input, so a hit runs the schema on the same thing). Never
 * rejects: a value that cannot be encoded, tag records that are not ready, a refused or failed write all
 * leave it uncached (failures counted), and the lock is released where the write did not clear it.
 */
export async function storeLoaded(c: Call, value: unknown, l: Loaded): Promise<void> {
  // The loader finished as close() began: its value is served, not written after the client closed.
  if (c.core.lifetime.signal.aborted) {
    releaseQuietly(c, l.token)
    return
  }
  let { startedAt } = l
  if (l.tags.length > 0) {
    const start = await tagStart(c, l.tags, l.known, startedAt, l.loadBegan)
    if (start === null) {
      releaseQuietly(c, l.token)
      return
    }
    startedAt = start
  }
  let body: string
  try {
    body = encode(c, value, l.tags, l.loadMs, startedAt)
  } catch (error) {
    // The caller still gets the value; only caching it is impossible.
    reportBackendError(c.core, c.scope, 'encode', c.key, error)
    releaseQuietly(c, l.token)
    return
  }
  try {
    const storing = storable(c, body, 'getOrSet')
    const stored = storing instanceof Promise ? await storing : storing
    // Too large: served, not stored. The lock goes now, so another process's waiters load for themselves
    // rather than wait out lockWait for a value that will never land; this process's callers share this load.
    if (typeof stored !== 'string') {
      releaseQuietly(c, l.token)
      return
    }
    body = stored
  } catch (error) {
    reportBackendError(c.core, c.scope, 'encode', c.key, error)
    releaseQuietly(c, l.token)
    return
  }
  try {
    const ttl = jitter(l.ttl, c.call.policy.jitter, Math.random())
    const result = await writeEntry(c, body, { ...l, ttl, startedAt })
    // A refresh replaced a value this process may hold in its tier: the next call reads the new one.
    c.core.l1?.drop([c.full])
    if (result === 'written') markPresent(c)
    // Refused with its generation still in place (the window passed, a tag moved): the lock is still ours.
    else releaseQuietly(c, l.token)
  } catch (error) {
    reportBackendError(c.core, c.scope, 'write', c.key, error)
    releaseQuietly(c, l.token)
  }
}

/**
 * The part of `set()` that needs no backend: the value encoded and sized (packed where `compress` says so). Rejects
 * with `CacheValueError` for a value that cannot be encoded and `CacheValueTooLargeError` for one over
 * `maxValueBytes`. A tagged body is sized with the widest start stamp a write can carry, so the body written later
 * (with the real one) is no longer, before compression.
 */
export async function prepareGiven(c: Call, value: unknown): Promise<string> {
  const { tags } = c.call
  return storableGiven(c, encode(c, value, tags, 0, tags.length > 0 ? WIDEST_STAMP : 0))
}

/** As long as any backend time in milliseconds a tag read returns before the year 2286, fraction included. */
const WIDEST_STAMP = 9_999_999_999_999.998

/** A `set()` body ready to write: encoded and sized with the start its tags count from (0 without tags). */
export interface Stamped {
  body: string
  startedAt: number
}

/** Rejects with `error`, reported for `operation` (counted, emitted, redacted). */
function failing(c: Call, operation: string) {
  return (error: unknown): never => {
    throw reportBackendError(c.core, c.scope, operation, c.key, error)
  }
}

/**
 * The part of `set()` that writes nothing: the value encoded and sized (`prepared` when {@link prepareGiven} did that
 * already) and, for a tagged value, the tag records read for its start and the body encoded and sized again with it.
 * Gzip does not grow with its input's length, so a compressed body can outgrow the limit with its real start where it
 * fitted with the widest: that rejection comes here, before any write (`setMany` stamps every value before writing any).
 */
export async function stampGiven(c: Call, value: unknown, prepared?: string): Promise<Stamped> {
  const { tags } = c.call
  // Sized before any backend call: a value too large is refused whole, and the key keeps what it held.
  const body = prepared ?? (await prepareGiven(c, value))
  if (tags.length === 0) return { body, startedAt: 0 }
  // Tag records must exist before the entry is written, or the first read would not trust it; the entry
  // counts from this read's time, after the records' creation stamp. The read also teaches the clock.
  const reply = await c.core.backend.readTags(tagKeys(c, tags), FENCE_WINDOW_MS).catch(failing(c, 'readTags'))
  // Now with its start: a few digits longer, so packed and sized again (a tagged, compressed set gzips twice).
  return { body: await storableGiven(c, encode(c, value, tags, 0, reply.now)), startedAt: reply.now }
}

/**
 * `set()`: stores a value unconditionally, but never after its caller was told it failed. Rejects with
 * a typed error: `CacheValueError` before any backend call for a value that cannot be encoded, else the
 * backend's failure, or `CacheTimeoutError` for a write the backend refused past its deadline.
 */
export async function storeGiven(c: Call, value: unknown, stamped?: Stamped): Promise<void> {
  const { core, scope, key } = c
  const { tags } = c.call
  const fail = (operation: string) => failing(c, operation)
  const { body, startedAt } = stamped ?? (await stampGiven(c, value))
  // On a cluster the tag records' master is not the entry's: its clock may be seconds off.
  await core.backend.knowClock(c.full)?.catch(fail('read'))
  // The caller is told the write failed once `timeout` has passed; a client may still deliver it later (a
  // replayed offline queue, a stalled link), so it carries that moment on the clock of the server that checks it
  // and is refused after it. The learned clock never runs ahead of that server (by more than servers that count as
  // agreeing may differ, see Backend), so neither does the deadline.
  const deadline = (core.backend.now(c.full) ?? core.backend.now() ?? 0) + core.timeout
  const { ttl } = c.call.policy
  const result = await writeEntry(c, body, { ttl, tags, startedAt, fence: null, deadline })
    .catch(fail('write'))
    .finally(() => core.l1?.drop([c.full]))
  if (result === 'late') fail('write')(new CacheTimeoutError(`${core.backend.name} write`, core.timeout))
  else if (result === 'written') await replicated(core, scope, [c.full], key)
  // A tag was invalidated between the record read and the write: the new value counts as invalidated, and the one it
  // was to replace must not outlive the call either (a lost update): a tombstone, as delete() leaves.
  else await tombstone(core, scope, key)
}
