import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  CacheBackendError,
  CacheKeyError,
  CacheTimeoutError,
  CachewardError,
  describeCause,
  redact,
  sanitizeCause,
} from '../../src/errors.js'

const SECRET = 'hunter2-s3cret'

/** An error shaped like the ones ioredis rejects with: the command, with its arguments, rides along. */
function ioredisReplyError(message: string, command: { name: string; args: string[] }) {
  return Object.assign(new Error(message), { name: 'ReplyError', command })
}

describe('redact', () => {
  it.each([
    ['a redis:// URL with user and password', `connect to redis://app:${SECRET}@10.0.0.5:6379/0 failed`],
    ['a rediss:// URL', `rediss://default:${SECRET}@eu1-cat-12345.upstash.io:6379`],
    ['an https:// URL with user and password', `GET https://user:${SECRET}@example.com/path failed`],
    ['a redis:// URL with a password and no user', `redis://:${SECRET}@localhost:6379`],
    ['a Bearer token', `Authorization: Bearer ${SECRET}`],
    ['a lowercase bearer token', `authorization: bearer ${SECRET}`],
    ['a token= query parameter', `GET /pipeline?token=${SECRET}&x=1`],
    ['an _token= parameter', `https://x.upstash.io/?_token=${SECRET}`],
    ['an env-style token', `UPSTASH_REDIS_REST_TOKEN=${SECRET}`],
    ['a JSON token field', `{"token":"${SECRET}"}`],
    ['a password= pair', `password=${SECRET}`],
    ["Upstash's echoed command", `ERR value is not an integer, command was: ["set","k","${SECRET}"]`],
    ["Upstash's echoed command over several lines", `ERR oops, command was: [\n"set",\n"k",\n"${SECRET}"\n]`],
  ])('removes the secret from %s', (_, text) => {
    const safe = redact(text)
    expect(safe).not.toContain(SECRET)
    expect(safe).not.toBe('')
  })

  it('keeps the parts of a URL that help debugging: scheme, host, port and path [S2]', () => {
    expect(redact(`connect to redis://app:${SECRET}@10.0.0.5:6379/0 failed`)).toBe(
      'connect to redis://***@10.0.0.5:6379/0 failed',
    )
    expect(redact(`redis://:${SECRET}@localhost:6379`)).toBe('redis://***@localhost:6379')
  })

  it("keeps Upstash's message and drops only the echoed command", () => {
    expect(redact(`ERR value is not an integer, command was: ["set","k","${SECRET}"]`)).toBe(
      'ERR value is not an integer',
    )
  })

  it('leaves a message without secrets alone', () => {
    for (const text of [
      'connect ECONNREFUSED 127.0.0.1:6379',
      'redis://localhost:6379 is unreachable',
      'NOSCRIPT No matching script. Please use EVAL.',
      'the key app:user:42 timed out',
    ]) {
      expect(redact(text)).toBe(text)
    }
  })

  it('is applied to every cacheward error message', () => {
    expect(new CacheKeyError(`bad key redis://u:${SECRET}@h`).message).not.toContain(SECRET)
    expect(new CachewardError('CACHEWARD_BACKEND', `Bearer ${SECRET}`).message).toBe('[cacheward] Bearer ***')
  })
})

describe('describeCause', () => {
  it("gives an error's class and redacted message", () => {
    const error = ioredisReplyError(`WRONGPASS redis://u:${SECRET}@h`, { name: 'auth', args: ['u', SECRET] })
    expect(describeCause(error)).toBe('ReplyError: WRONGPASS redis://***@h')
  })

  it('leaves out the class when it is plain Error', () => {
    expect(describeCause(new Error('socket closed'))).toBe('socket closed')
  })

  it('describes strings redacted, and anything else without its content', () => {
    expect(describeCause(`token=${SECRET}`)).toBe('token=***')
    expect(describeCause({ password: SECRET })).toBe('unknown error')
    expect(describeCause(undefined)).toBe('unknown error')
    expect(describeCause(new Error(''))).toBe('unknown error')
  })

  it('truncates a long message to 300 characters', () => {
    const described = describeCause(new Error('x'.repeat(1_000)))
    expect(described).toBe(`${'x'.repeat(300)}…`)
  })
})

describe('sanitizeCause', () => {
  it('returns a plain Error with the class name and redacted message only', () => {
    const original = ioredisReplyError(`NOAUTH redis://u:${SECRET}@h`, { name: 'auth', args: ['user', SECRET] })
    const safe = sanitizeCause(original)
    expect(safe).not.toBe(original)
    expect(safe.name).toBe('ReplyError')
    expect(safe.message).toBe('ReplyError: NOAUTH redis://***@h')
    expect(Object.keys(safe)).toEqual(['name'])
    expect('command' in safe).toBe(false)
    expect(safe.cause).toBeUndefined()
  })

  it('keeps a cacheward error as it is (it is already safe)', () => {
    const timeout = new CacheTimeoutError('ioredis read', 1_000)
    expect(sanitizeCause(timeout)).toBe(timeout)
  })
})

describe('CacheBackendError', () => {
  const original = ioredisReplyError('NOAUTH Authentication required.', { name: 'auth', args: ['user', SECRET] })
  const error = new CacheBackendError('ioredis', 'write', original)

  it('says which adapter failed, during what, and why', () => {
    expect(error.message).toBe(
      '[cacheward] ioredis backend failed during write: ReplyError: NOAUTH Authentication required.',
    )
    expect(error).toMatchObject({ name: 'CacheBackendError', code: 'CACHEWARD_BACKEND', adapter: 'ioredis' })
    expect(error.operation).toBe('write')
  })

  it("does not expose the command's arguments through its cause", () => {
    expect(error.cause).toBeInstanceOf(Error)
    expect(error.cause).not.toBe(original)
    expect((error.cause as Error).message).toBe('ReplyError: NOAUTH Authentication required.')
    expect('command' in (error.cause as object)).toBe(false)
  })

  it('does not expose them through JSON.stringify, inspect, the stack or the message', () => {
    expect(JSON.stringify(error)).not.toContain(SECRET)
    expect(JSON.stringify(error.cause)).not.toContain(SECRET)
    expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(SECRET)
    expect(String(error.stack)).not.toContain(SECRET)
    expect(error.message).not.toContain(SECRET)
  })

  it('redacts a URL with credentials in the wrapped message, in both the error and its cause', () => {
    const wrapped = new CacheBackendError('ioredis', 'invalidate', new Error(`connect redis://u:${SECRET}@h:6379`))
    expect(wrapped.message).toContain('redis://***@h:6379')
    expect(inspect(wrapped, { depth: 10, showHidden: true })).not.toContain(SECRET)
  })

  it("removes Upstash's echoed command, which carries the cached value", () => {
    const upstash = new Error(`ERR max request size exceeded, command was: ["set","app:k","${SECRET}"]`)
    const wrapped = new CacheBackendError('upstash', 'write', upstash)
    expect(wrapped.message).toBe('[cacheward] upstash backend failed during write: ERR max request size exceeded')
    expect(inspect(wrapped, { depth: 10, showHidden: true })).not.toContain(SECRET)
  })
})
