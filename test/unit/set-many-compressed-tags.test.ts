/**
 * `setMany` with `compress`, `tags` and `maxValueBytes`: a value is sized before any backend call with the widest
 * start stamp, then again once its tag read gave it the real one. Gzip does not grow with its input's length, so a
 * value can fit with the widest stamp and not with the real one. The batch must then be refused whole: no key written.
 * The in-process store with a manual clock, so the real stamp is known in advance (the sizing is the client's own).
 */
import { describe, expect, it } from 'vitest'
import { createCacheClient } from '../../src/client.js'
import { pack } from '../../src/compress.js'
import { encodeEntry } from '../../src/entry.js'
import { CacheValueTooLargeError } from '../../src/index.js'
import { jsonSerializer } from '../../src/serializer.js'
import { manualClock } from '../../src/testing/manual-clock.js'

const START = Date.UTC(2030, 0, 1)
/** The widest start a tagged body is first sized with (write.ts). */
const WIDEST = 9_999_999_999_999.998
const THRESHOLD = 64

async function packedBytes(value: unknown, startedAt: number): Promise<number> {
  const body = encodeEntry({ value, tags: ['t'], loadMs: 0, startedAt }, jsonSerializer)
  return (await pack(body, { threshold: THRESHOLD }, Number.POSITIVE_INFINITY)).bytes
}

/** A compressible value whose tagged entry packs larger with any start near START than with the widest one. */
async function borderline(): Promise<{ value: { s: string }; limit: number }> {
  for (let seed = 0; seed < 500; seed++) {
    let s = ''
    let x = seed * 7919 + 13
    for (let i = 0; i < 200; i++) {
      x = (x * 1103515245 + 12345) % 2147483648
      s += 'abcdefghij'[x % 10] + (i % 3 === 0 ? 'room ' : '')
    }
    const value = { s }
    const widest = await packedBytes(value, WIDEST)
    let larger = true
    for (let k = 0; k <= 50 && larger; k++) larger = (await packedBytes(value, START + k * 0.001)) > widest
    if (larger) return { value, limit: widest }
  }
  throw new Error('no borderline value found')
}

describe('setMany with compress and tags', () => {
  it('refused for a value that outgrows maxValueBytes with its real start, writes none of the batch', async () => {
    const { value, limit } = await borderline()
    const cache = createCacheClient({
      clock: manualClock(START),
      namespace: 'z',
      compress: { threshold: THRESHOLD },
      maxValueBytes: limit,
    })
    const batch: [string, unknown][] = [
      ['a', 'small'],
      ['b', value],
    ]
    await expect(cache.setMany(batch, { tags: ['t'] })).rejects.toBeInstanceOf(CacheValueTooLargeError)
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.get('b')).toBeUndefined()
  })
})
