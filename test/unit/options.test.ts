import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory.js'
import {
  CacheKeyError,
  CacheOptionsError,
  CachewardError,
  createCacheClient,
  isCacheKeyError,
  isCacheOptionsError,
  isCachewardError,
} from '../../src/index.js'
import { DEFAULTS, resolveCallOptions } from '../../src/options.js'

/** Builds a client with `options` and returns the CacheOptionsError it throws. */
function optionsError(options: unknown): CacheOptionsError {
  try {
    createCacheClient(options as never)
  } catch (error) {
    expect(error).toBeInstanceOf(CacheOptionsError)
    return error as CacheOptionsError
  }
  throw new Error(`expected createCacheClient(${JSON.stringify(options)}) to throw`)
}

const loader = () => 'value'

describe('createCacheClient options', () => {
  it('accepts no options, an empty object and every option set to a valid value', () => {
    expect(() => createCacheClient()).not.toThrow()
    expect(() => createCacheClient({})).not.toThrow()
    expect(() =>
      createCacheClient({
        namespace: 'app',
        ttl: '5m',
        staleWhileRevalidate: '10m',
        staleIfError: 3_600_000,
        timeout: '250ms',
        enabled: false,
        lockTtl: '10s',
        lockWait: 0,
        clock: { now: () => 0 },
        serializer: { serialize: JSON.stringify, deserialize: JSON.parse },
      }),
    ).not.toThrow()
  })

  it('names a bad duration option and shows the bad value', () => {
    const error = optionsError({ staleIfError: -5 })
    expect(error.message).toContain('invalid option "staleIfError"')
    expect(error.message).toContain('got -5')
    expect(error.message.startsWith('[cacheward] ')).toBe(true)
    expect(error.issues).toEqual([{ path: 'staleIfError', message: expect.stringContaining('got -5') }])
  })

  it.each([
    [{ ttl: '5 minutes' }, 'ttl', 'got "5 minutes"'],
    [{ ttl: Number.NaN }, 'ttl', 'got NaN'],
    [{ ttl: Number.POSITIVE_INFINITY }, 'ttl', 'got Infinity'],
    [{ ttl: '5M' }, 'ttl', 'got "5M"'],
    [{ lockWait: -1 }, 'lockWait', 'got -1'],
  ])('rejects %o, naming %s and saying what it got', (options, path, shown) => {
    const error = optionsError(options)
    expect(error.message).toContain(`invalid option "${path}"`)
    expect(error.message).toContain(shown)
    expect(error.message).toContain("like '250ms', '10s', '5m', '1h', '1d'")
  })

  it.each([
    [{ ttl: '30d' }, 'ttl', 'got "30d"'],
    [{ staleWhileRevalidate: '25d' }, 'staleWhileRevalidate', 'got "25d"'],
    [{ staleIfError: 30 * 86_400_000 }, 'staleIfError', 'got 2592000000'],
    [{ timeout: '2147483648ms' }, 'timeout', 'got "2147483648ms"'],
    [{ circuitBreaker: { duration: '30d' } }, 'circuitBreaker.duration', 'got "30d"'],
  ])('rejects %o, saying the longest duration there is (about 24.8 days)', (options, path, shown) => {
    const error = optionsError(options)
    expect(error.issues.map((i) => i.path)).toEqual([path])
    expect(error.message).toContain(`invalid option "${path}": expected at most about 24.8 days (2147483647 ms`)
    expect(error.message).toContain("'24d'")
    expect(error.message).toContain(shown)
  })

  it.each([
    [{ timeout: 0 }, 'timeout', 'must be greater than 0'],
    [{ timeout: '0s' }, 'timeout', 'must be greater than 0'],
    [{ lockTtl: 0 }, 'lockTtl', 'must be greater than 0'],
    [{ namespace: '' }, 'namespace', 'expected a non-empty string'],
    [{ namespace: 5 }, 'namespace', 'expected a non-empty string'],
    [{ namespace: 'x'.repeat(129) }, 'namespace', 'at most 128 characters'],
    [{ adapter: {} }, 'adapter', 'expected a cacheward adapter'],
    [{ adapter: null }, 'adapter', 'expected a cacheward adapter'],
    [{ enabled: 'yes' }, 'enabled', 'expected true or false'],
    [{ clock: { now: 5 } }, 'clock', 'expected { now(): number }'],
    [{ serializer: JSON }, 'serializer', 'expected { serialize(value): string'],
  ])('rejects %o, naming %s and saying what it expects', (options, path, expected) => {
    const error = optionsError(options)
    expect(error.message).toContain(`invalid option "${path}"`)
    expect(error.message).toContain(expected)
    expect(error.issues.map((i) => i.path)).toEqual([path])
  })

  // Bug (src/options.ts): these schemas replace the message with a fixed text that does not show the bad
  // value, against STYLE.md 2.3 ("...expected a duration like '10m', got -5"): positiveDuration's refine
  // ("must be greater than 0"), namespaceSchema, adapterSchema and the enabled boolean.
  it.each([
    [{ timeout: 0 }, 'got 0'],
    [{ timeout: '0s' }, 'got "0s"'],
    [{ namespace: '' }, 'got ""'],
    [{ adapter: {} }, 'got an object'],
    [{ enabled: 'yes' }, 'got "yes"'],
  ])('shows the bad value of %o in the message', (options, shown) => {
    expect(optionsError(options).message).toContain(shown)
  })

  it('calls an unknown option unknown, by name', () => {
    const error = optionsError({ tll: '5m' })
    expect(error.message).toBe('[cacheward] invalid option "tll": unknown option')
    expect(error.issues).toEqual([{ path: 'tll', message: 'unknown option' }])
  })

  it('lists every bad option at once, in issues and in the message', () => {
    const error = optionsError({ ttl: -1, timeout: 0, enabled: 1, tll: 1 })
    expect(error.issues.map((i) => i.path).sort()).toEqual(['enabled', 'timeout', 'tll', 'ttl'])
    expect(error.message).toMatch(/^\[cacheward\] invalid option "\w+": .+ \(and 3 more: [\w, ]+\)$/)
    for (const path of ['enabled', 'timeout', 'tll', 'ttl']) expect(error.message).toContain(path)
  })

  it('rejects options that are not an object, saying what it got', () => {
    expect(optionsError('fast').message).toBe('[cacheward] invalid option "(options)": expected an object, got "fast"')
    expect(optionsError(42).message).toBe('[cacheward] invalid option "(options)": expected an object, got 42')
    expect(optionsError([]).message).toBe('[cacheward] invalid option "(options)": expected an object, got an array')
  })

  it('says what circuitBreaker takes when given true, not just "Invalid input"', () => {
    const error = optionsError({ circuitBreaker: true })
    expect(error.issues).toEqual([{ path: 'circuitBreaker', message: expect.stringContaining('got true') }])
    expect(error.message).toContain('invalid option "circuitBreaker": expected false (off) or { threshold')
    expect(error.message).toContain('it is on by default')
  })

  it.each([
    [{ circuitBreaker: 'on' }, 'circuitBreaker', 'expected false (off) or { threshold', 'got "on"'],
    [{ circuitBreaker: null }, 'circuitBreaker', 'expected false (off) or { threshold', 'got null'],
    [{ circuitBreaker: [] }, 'circuitBreaker', 'expected false (off) or { threshold', 'got an array'],
    [{ circuitBreaker: { threshold: 0 } }, 'circuitBreaker.threshold', 'whole number of failures', 'got 0'],
    [{ circuitBreaker: { threshold: 'x' } }, 'circuitBreaker.threshold', 'whole number of failures', 'got "x"'],
    [{ circuitBreaker: { threshold: 2.5 } }, 'circuitBreaker.threshold', 'whole number of failures', 'got 2.5'],
    [{ circuitBreaker: { duration: 'soon' } }, 'circuitBreaker.duration', "like '250ms'", 'got "soon"'],
    [{ circuitBreaker: { duration: 0 } }, 'circuitBreaker.duration', 'must be greater than 0', 'got 0'],
    [{ circuitBreaker: { treshold: 3 } }, 'circuitBreaker.treshold', 'unknown option', ''],
  ])('names the field of %o that is wrong and says what it expected and got', (options, path, expected, got) => {
    const error = optionsError(options)
    expect(error.issues.map((i) => i.path)).toEqual([path])
    expect(error.message).toContain(`invalid option "${path}": `)
    expect(error.message).toContain(expected)
    expect(error.message).toContain(got)
  })

  it('accepts circuitBreaker false, {} and both fields', () => {
    expect(() => createCacheClient({ circuitBreaker: false })).not.toThrow()
    expect(() => createCacheClient({ circuitBreaker: {} })).not.toThrow()
    expect(() => createCacheClient({ circuitBreaker: { threshold: 3, duration: '10s' } })).not.toThrow()
  })

  it('freezes nothing the user passed and accepts the same options object twice', () => {
    const options = { ttl: '1s' as const, namespace: 'app' }
    createCacheClient(options)
    expect(Object.isFrozen(options)).toBe(false)
    expect(() => createCacheClient(options)).not.toThrow()
  })
})

describe('memoryAdapter options', () => {
  /** Calls memoryAdapter(options) and returns the CacheOptionsError it throws. */
  function memoryError(options: unknown): CacheOptionsError {
    try {
      memoryAdapter(options as never)
    } catch (error) {
      expect(error).toBeInstanceOf(CacheOptionsError)
      return error as CacheOptionsError
    }
    throw new Error(`expected memoryAdapter(${JSON.stringify(options)}) to throw`)
  }

  it("rejects lru-cache's max, naming it and suggesting maxEntries", () => {
    const error = memoryError({ max: 10 })
    expect(error.message).toBe(
      '[cacheward] invalid option "max": unknown option for memoryAdapter(); did you mean maxEntries?',
    )
    expect(error.issues).toEqual([{ path: 'max', message: expect.stringContaining('did you mean maxEntries?') }])
  })

  it('rejects any other unknown option, listing the known ones, and every one at once', () => {
    const error = memoryError({ ttl: '5m', maxBytes: 1_000 })
    expect(error.issues).toEqual([
      { path: 'ttl', message: 'unknown option for memoryAdapter(); known: maxEntries, maxSize, clock' },
      { path: 'maxBytes', message: 'unknown option for memoryAdapter(); did you mean maxSize?' },
    ])
  })

  it('rejects options that are not an object, saying what it got', () => {
    expect(memoryError('big').message).toBe(
      '[cacheward] invalid option "(options)": memoryAdapter(options) expected an object, got string',
    )
    expect(memoryError(null).issues[0]?.path).toBe('(options)')
  })

  it('accepts its own options, none, and undefined values', () => {
    expect(() => memoryAdapter()).not.toThrow()
    expect(() => memoryAdapter({ maxEntries: 10, maxSize: 1_000, clock: { now: () => 0 } })).not.toThrow()
    expect(() => memoryAdapter({ maxSize: undefined } as never)).not.toThrow()
  })
})

describe('call options', () => {
  const cache = createCacheClient({ namespace: 'opts' })

  it('rejects a bad ttl on getOrSet with an error naming ttl and showing the value', async () => {
    const error = await cache.getOrSet('k', loader, { ttl: -1 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheOptionsError)
    expect((error as CacheOptionsError).message).toContain('invalid option "ttl"')
    expect((error as CacheOptionsError).message).toContain('got -1')
    expect((error as CacheOptionsError).issues).toEqual([{ path: 'ttl', message: expect.any(String) }])
  })

  it.each([
    [{ staleWhileRevalidate: '5 minutes' }, 'staleWhileRevalidate', 'got "5 minutes"'],
    [{ staleIfError: Number.NaN }, 'staleIfError', 'got NaN'],
    [{ tll: '5m' }, 'tll', 'unknown option for getOrSet(); known: ttl, staleWhileRevalidate'],
    [{ tags: 'rooms' }, 'tags', 'got "rooms"'],
    [{ tags: [''] }, 'tags', 'expected an array of non-empty strings'],
    [{ tags: [1] }, 'tags', 'expected an array of non-empty strings'],
    [{ tags: ['x'.repeat(257)] }, 'tags', 'at most 256 characters'],
    [{ category: '' }, 'category', 'got ""'],
    [{ category: 5 }, 'category', 'got 5'],
    [{ category: 'x'.repeat(65) }, 'category', 'at most 64 characters'],
    [{ schema: {} }, 'schema', 'expected a Standard Schema'],
    [{ signal: 'abort' }, 'signal', 'expected an AbortSignal'],
    [{ allowStale: true }, 'allowStale', 'unknown option for getOrSet()'],
  ])('rejects getOrSet options %o, naming %s', async (options, path, text) => {
    const error = await cache.getOrSet('k', loader, options as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheOptionsError)
    expect((error as Error).message).toContain(`invalid option "${path}"`)
    expect((error as Error).message).toContain(text)
  })

  it('rejects a call duration over the limit, saying the limit', async () => {
    const error = await cache.getOrSet('k', loader, { staleIfError: '30d' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheOptionsError)
    expect((error as Error).message).toContain('invalid option "staleIfError": expected at most about 24.8 days')
    expect((error as Error).message).toContain('got "30d"')
    expect(() => cache.namespace('long', { ttl: '30d' })).toThrow('expected at most about 24.8 days')
  })

  it('rejects get and set options that belong to another method', async () => {
    await expect(cache.get('k', { ttl: '1s' } as never)).rejects.toThrow('unknown option for get()')
    await expect(cache.get('k', { allowStale: 'yes' } as never)).rejects.toThrow('invalid option "allowStale"')
    await expect(cache.set('k', 1, { category: 'x' } as never)).rejects.toThrow('unknown option for set()')
  })

  it('rejects options that are not an object', async () => {
    await expect(cache.getOrSet('k', loader, 'fast' as never)).rejects.toThrow(
      'invalid option "getOrSet options": expected an object, got "fast"',
    )
    await expect(cache.getOrSet('k', loader, [] as never)).rejects.toThrow(CacheOptionsError)
  })

  it('rejects a loader that is not a function with an error naming loader', async () => {
    const error = await cache.getOrSet('k', 'value' as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheOptionsError)
    expect((error as CacheOptionsError).issues[0]?.path).toBe('loader')
    expect((error as Error).message).toContain('invalid option "loader": expected a function, got string')
  })

  it.each([
    ['an empty key', '', 'key must not be empty'],
    ['a number', 5, 'key must be a string, got number'],
    ['a 2000-character key', 'x'.repeat(2000), 'key is 2000 characters long; the limit is 1024'],
  ])('rejects %s as a key with CacheKeyError', async (_, key, message) => {
    await expect(cache.getOrSet(key as never, loader)).rejects.toThrow(CacheKeyError)
    await expect(cache.getOrSet(key as never, loader)).rejects.toThrow(message)
    await expect(cache.get(key as never)).rejects.toThrow(CacheKeyError)
    await expect(cache.set(key as never, 1)).rejects.toThrow(CacheKeyError)
    await expect(cache.delete(key as never)).rejects.toThrow(CacheKeyError)
  })

  it('rejects an empty namespace name with CacheKeyError, at once', () => {
    expect(() => cache.namespace('')).toThrow(CacheKeyError)
    expect(() => cache.namespace('')).toThrow('namespace must be a non-empty string')
  })

  it('rejects bad namespace() options, naming them', () => {
    expect(() => cache.namespace('rooms', { ttl: 'soon' } as never)).toThrow('invalid option "ttl"')
    expect(() => cache.namespace('rooms', { tags: ['x'] } as never)).toThrow('invalid option "tags": unknown option')
  })

  it('refuses clear() without a namespace, naming the namespace option', async () => {
    const bare = createCacheClient()
    const error = await bare.clear().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheOptionsError)
    expect((error as CacheOptionsError).issues[0]?.path).toBe('namespace')
    expect((error as Error).message).toContain('invalid option "namespace": clear() needs a namespace')
  })

  it('does not count or load for a call rejected for its options', async () => {
    const fresh = createCacheClient()
    let calls = 0
    await fresh.getOrSet('k', () => ++calls, { ttl: -1 }).catch(() => {})
    expect(calls).toBe(0)
    expect(fresh.metrics()).toMatchObject({ hits: 0, misses: 0, loads: 0 })
  })
})

describe('resolveCallOptions', () => {
  const base = {
    ttl: DEFAULTS.ttl,
    staleWhileRevalidate: 0,
    staleIfError: 0,
    softTimeout: 0,
    hardTimeout: 0,
    errorBackoff: DEFAULTS.errorBackoff,
    earlyRefresh: 0,
    jitter: 0,
  }

  it('returns the base policy and no tags, schema or category without options', () => {
    expect(resolveCallOptions('getOrSet', base, undefined)).toEqual({
      policy: base,
      tags: [],
      schema: undefined,
      category: undefined,
      signal: undefined,
      allowStale: false,
    })
  })

  it('merges call durations over the base policy, parsing strings and rounding numbers', () => {
    const call = resolveCallOptions('getOrSet', base, { ttl: '30s', staleIfError: 1_500.6, tags: ['a'], category: 'c' })
    expect(call.policy).toEqual({ ...base, ttl: 30_000, staleIfError: 1_501 })
    expect(call.tags).toEqual(['a'])
    expect(call.category).toBe('c')
  })

  it('ignores options set to undefined', () => {
    expect(resolveCallOptions('set', base, { ttl: undefined, tags: undefined }).policy).toEqual(base)
  })

  it('accepts allowStale on get', () => {
    expect(resolveCallOptions('get', base, { allowStale: true }).allowStale).toBe(true)
  })
})

describe('error guards', () => {
  it('recognise an error from another copy of the package by its code', () => {
    const foreign = { name: 'CacheOptionsError', code: 'CACHEWARD_OPTIONS', message: '[cacheward] x' }
    expect(isCachewardError(foreign)).toBe(true)
    expect(isCacheOptionsError(foreign)).toBe(true)
    expect(isCacheKeyError(foreign)).toBe(false)
  })

  it('are false for other errors and values', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    for (const value of [new Error('x'), refused, { code: 'CACHEWARD_NOPE' }, { code: 42 }, null, undefined, 'x']) {
      expect(isCachewardError(value)).toBe(false)
    }
  })

  it('give every error a name, a code and a message prefixed [cacheward]', () => {
    const error = optionsError({ ttl: -1 })
    expect(error).toBeInstanceOf(CachewardError)
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('CacheOptionsError')
    expect(error.code).toBe('CACHEWARD_OPTIONS')
    expect(error.message.startsWith('[cacheward] ')).toBe(true)
    expect(Object.isFrozen(error.issues)).toBe(true)

    const keyError = new CacheKeyError('key must not be empty')
    expect(keyError.name).toBe('CacheKeyError')
    expect(keyError.code).toBe('CACHEWARD_KEY')
    expect(keyError.message).toBe('[cacheward] key must not be empty')
    expect(String(keyError)).toBe('CacheKeyError: [cacheward] key must not be empty')
  })
})
