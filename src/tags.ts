/**
 * Tag stamps: reading them, comparing an entry's load start with them, and making sure the records an
 * entry carries exist before it is written. An entry whose load began at or before the stamp of one of
 * its tags is invalid (see `invalidateTags`).
 * @module
 */
import type { ReadReply, TagRead } from './adapters/adapter.js'
import { type Call, FENCE_WINDOW_MS, reportBackendError } from './core.js'

/**
 * Tag records live at least this long after an entry carrying them was written, or after their last
 * invalidation. One that expires makes the entries carrying the tag untrusted until the next write
 * recreates it (see TagReply): at most one reload each.
 */
export const TAG_TTL_MS = 7 * 86_400_000

/** Invalidation stamps by tag; `null` when they could not be read (then tagged entries are not trusted). */
export type TagStamps = Map<string, number> | null

/** Full keys of the records of `tags`. */
export function tagKeys(c: Call, tags: readonly string[]): string[] {
  return tags.map((tag) => c.scope.tagPrefix + tag)
}

/**
 * The call's tag records, to read with its entry. A record the read creates lives only the fence
 * window: a read of an id that holds nothing never grows the keyspace for long; the write of an entry
 * keeps its records longer.
 */
export function tagReadOf(c: Call): TagRead | undefined {
  const { tags } = c.call
  return tags.length > 0 ? { keys: tagKeys(c, tags), ttl: FENCE_WINDOW_MS } : undefined
}

/** Stamps by tag from a reply that read them beside the entry. */
export function stampsOf(tags: readonly string[], reply: ReadReply): Map<string, number> | undefined {
  const stamps = reply.tagStamps
  if (!stamps) return undefined
  return new Map(tags.map((tag, i) => [tag, stamps[i] ?? Number.POSITIVE_INFINITY]))
}

/** Hands the stamps a read returned for the call's own tags to the in-process tier. */
export function noteStamps(c: Call, reply: ReadReply): void {
  const l1 = c.core.l1
  if (l1 === undefined || c.ticket === undefined || !reply.tagStamps) return
  l1.noteStamps(tagKeys(c, c.call.tags), reply.tagStamps, c.ticket)
}

/** Reads the stamps of `tags` in one round trip (creating missing records); a failure is reported and yields `null`. */
export async function readTagStamps(c: Call, tags: readonly string[]): Promise<TagStamps> {
  try {
    const keys = tagKeys(c, tags)
    const reply = await c.core.backend.readTags(keys, FENCE_WINDOW_MS)
    if (c.ticket !== undefined) c.core.l1?.noteStamps(keys, reply.stamps, c.ticket)
    return new Map(tags.map((tag, i) => [tag, reply.stamps[i] ?? Number.POSITIVE_INFINITY]))
  } catch (error) {
    reportBackendError(c.core, c.scope, 'readTags', c.key, error)
    return null
  }
}

/**
 * Whether an entry that began loading at `began` (backend time) and carries `tags` is still valid:
 * `false` when one of them was invalidated at or after it. Stamps come from `known` (read with the
 * entry) or `fetched`; a tag in neither counts as invalidated.
 */
export function tagsAllow(
  tags: readonly string[],
  began: number,
  known: Map<string, number> | undefined,
  fetched: Map<string, number> | undefined,
): boolean {
  for (const tag of tags) {
    const stamp = known?.get(tag) ?? fetched?.get(tag) ?? Number.POSITIVE_INFINITY
    if (stamp >= began) return false
  }
  return true
}

/**
 * Every tag of an entry needs a record before the entry is written, or no read would trust it. A
 * record found missing is created stamped at the backend's current time, never earlier: if that is not
 * before the load began (a record lost or first used during the load), the write is skipped and the
 * next load stores the value. Resolves to the start the entry is stored with, on the clock that stamps
 * its tags, or `null` when it must not be written: a tag was invalidated during the load, or the records
 * cannot be read. The write checks the records again, atomically where the backend allows it.
 *
 * `startedAt` is on the tags' clock when their stamps were read beside the entry (`known`). Otherwise it may
 * be the entry's master's (an untagged call whose loader called `ctx.setTags`), and on a cluster the tags'
 * master can be seconds off: the start is then taken on the tags' clock at `loadBegan`, this process's
 * monotonic time when the loader began (see `Backend.startOn`). The offset learned from the stamp read is a
 * lower bound of that clock, so an invalidation made during the load is still stamped after the start.
 */
export async function tagStart(
  c: Call,
  tags: readonly string[],
  known: TagStamps | undefined,
  startedAt: number,
  loadBegan: number,
): Promise<number | null> {
  const stamps = known && tags.every((tag) => known.has(tag)) ? known : await readTagStamps(c, tags)
  if (stamps === null) return null
  const start =
    known === undefined ? c.core.backend.startOn(c.scope.tagPrefix + tags[0], startedAt, loadBegan) : startedAt
  if (start === undefined) return null
  return tags.every((tag) => (stamps.get(tag) ?? Number.POSITIVE_INFINITY) < start) ? start : null
}
