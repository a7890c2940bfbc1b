/**
 * The Lua of batched reads: per key exactly what the single read does (the same `readEntry`, see
 * `redis-scripts.ts`), for many keys in one script, so a batch of cached keys costs one round trip.
 * @module
 */
import { NOW, READ_ENTRY, READ_TAG_STAMPS } from './redis-scripts.js'

/**
 * KEYS[1..n] entry keys (one slot on a cluster), KEYS[n+1..] tag records to read first (standalone and Upstash).
 * ARGV[1] '0' read only, '1' take each lock when not fresh; ARGV[2] n; ARGV[3] lock ttl ms; ARGV[4] ms a locked key
 * is kept at least; ARGV[5] tag record ttl ms; ARGV[6..5+n] one lock token per key.
 * Returns an array: the tag stamps (`T<stamp>,…|`, or `''` without tags), then one `<status>|<now>|<slot>` per key,
 * as the single read answers. The table is returned through a constructor: ioredis-mock (the unit tests' Redis)
 * converts only those, and Redis answers the same either way.
 */
export const READ_MANY_SCRIPT = `${NOW}
${READ_TAG_STAMPS}
${READ_ENTRY}
local n = tonumber(ARGV[2])
local out = { readTagStamps(n + 1, #KEYS, ARGV[5]) }
for i = 1, n do out[i + 1] = readEntry(KEYS[i], ARGV[1], ARGV[5 + i], ARGV[3], ARGV[4]) end
return { (table.unpack or unpack)(out) }`

/**
 * The same for keys of many slots served by one cluster node (Redis 7: the `allow-cross-slot-keys` flag). A
 * script's declared keys must share a slot, so KEYS[1] is only the key the call is routed by; the entry keys follow
 * the tokens in ARGV[6+n..5+2n]. No tag records (they live in their own slot). A key this node does not serve
 * (a slot moving) fails the script; the adapter then reads that node's keys one slot at a time.
 */
export const READ_MANY_LOCAL_SCRIPT = `#!lua flags=allow-cross-slot-keys
${NOW}
${READ_ENTRY}
local n = tonumber(ARGV[2])
local out = { '' }
for i = 1, n do out[i + 1] = readEntry(ARGV[5 + n + i], ARGV[1], ARGV[5 + i], ARGV[3], ARGV[4]) end
return { (table.unpack or unpack)(out) }`
