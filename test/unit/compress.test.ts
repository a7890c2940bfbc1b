import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { createCacheClient } from '../../src/client.js'
import { isPacked, PACKED_PREFIX, pack, unpack, utf8Bytes } from '../../src/compress.js'
import { CacheOptionsError } from '../../src/errors.js'
import { resolveClientOptions } from '../../src/option-checks.js'

describe('the stored form of a body', () => {
  it('counts UTF-8 bytes as TextEncoder does, without encoding', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        expect(utf8Bytes(text)).toBe(new TextEncoder().encode(text).length)
      }),
      { numRuns: 500 },
    )
  })

  it('stops counting once a body is longer than the limit: still reported over it [L4]', () => {
    expect(utf8Bytes('x'.repeat(101), 100)).toBeGreaterThan(100)
    expect(utf8Bytes('é'.repeat(60), 100)).toBe(120)
  })

  it('leaves a body below the threshold, or with compression off, as it is, synchronously [L4]', () => {
    const body = JSON.stringify({ w: 1, v: 'a'.repeat(500) })
    expect(pack(body, undefined, 1_000)).toEqual({ body, bytes: body.length })
    expect(pack(body, { threshold: 4_096 }, 1_000)).toEqual({ body, bytes: body.length })
  })

  it('gzips a body over the threshold behind the marker, and unpacks it to the same text [L4]', async () => {
    const body = JSON.stringify({ w: 1, v: Array.from({ length: 2_000 }, (_, i) => ({ id: i, name: `row ${i} é✓` })) })
    const packed = await pack(body, { threshold: 1_024 }, Number.POSITIVE_INFINITY)
    expect(isPacked(packed.body)).toBe(true)
    expect(packed.body.startsWith(PACKED_PREFIX)).toBe(true)
    expect(packed.bytes).toBe(packed.body.length)
    expect(packed.bytes).toBeLessThan(body.length / 3)
    expect(await unpack(packed.body)).toBe(body)
  })

  it('stores a body plain where the runtime has no CompressionStream [L4]', () => {
    vi.stubGlobal('CompressionStream', undefined)
    try {
      const body = 'x'.repeat(10_000)
      expect(pack(body, { threshold: 0 }, Number.POSITIVE_INFINITY)).toEqual({ body, bytes: 10_000 })
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('stops inflating a body past the bound it is given: a planted gzip bomb is refused, not read to its end [L4]', async () => {
    const zeros = '0'.repeat(8 * 1024 * 1024)
    const bomb = (await pack(zeros, { threshold: 0 }, Number.POSITIVE_INFINITY)).body
    expect(bomb.length).toBeLessThan(20_000)
    await expect(unpack(bomb, 1024 * 1024)).rejects.toThrow(RangeError)
    expect(await unpack(bomb, 8 * 1024 * 1024)).toBe(zeros)
  })

  it('rejects a marked body that is not base64 of gzip data', async () => {
    await expect(unpack(`${PACKED_PREFIX}not gzip`)).rejects.toThrow()
    await expect(unpack(`${PACKED_PREFIX}AAAA`)).rejects.toThrow()
  })
})

describe('maxValueBytes and compress options', () => {
  it.each([
    [{ maxValueBytes: 0 }, 'maxValueBytes'],
    [{ maxValueBytes: 1.5 }, 'maxValueBytes'],
    [{ maxValueBytes: '1mb' }, 'maxValueBytes'],
    [{ compress: { threshold: -1 } }, 'compress.threshold'],
    [{ compress: { level: 9 } }, 'compress.level'],
    [{ compress: 'gzip' }, 'compress'],
  ])('rejects %o with a CacheOptionsError naming %s [L4]', (options, path) => {
    const error = (() => {
      try {
        createCacheClient(options as never)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(CacheOptionsError)
    expect((error as CacheOptionsError).issues.map((i) => i.path)).toEqual([path])
    expect((error as Error).message).toContain(`"${path}"`)
  })

  it('defaults to 1 MiB and, with compress: true, a 64 KiB threshold [L4]', () => {
    expect(resolveClientOptions({}).maxValueBytes).toBe(1_048_576)
    expect(resolveClientOptions({}).compress).toBeUndefined()
    expect(resolveClientOptions({ compress: true }).compress).toEqual({ threshold: 65_536 })
    expect(resolveClientOptions({ compress: { threshold: 10 } }).compress).toEqual({ threshold: 10 })
  })

  it('accepts Infinity (no bound), true and a threshold, and a namespace override [L4]', () => {
    const cache = createCacheClient({ maxValueBytes: Number.POSITIVE_INFINITY, compress: true })
    expect(() => cache.namespace('x', { maxValueBytes: 10 })).not.toThrow()
    expect(() => cache.namespace('y', { maxValueBytes: -1 })).toThrow(CacheOptionsError)
    expect(() => createCacheClient({ compress: { threshold: 0 } })).not.toThrow()
  })
})
