import { Redis } from '@upstash/redis'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import { createCacheClient } from '../../src/client.js'

// Cloudflare Workers evaluate a module in the global scope, where workerd throws "Disallowed operation called within
// global scope" on timers, random numbers and I/O objects (an AbortController is one). A client is built there, once
// per isolate, so building one must do none of them. test/runtimes/workerd.test.ts proves it in workerd itself; this
// is the same rule in Node, where a slip fails in a second.

type Restore = () => void
const restores: Restore[] = []

/** Replaces `object[name]` with a function that records the call and throws, as workerd does at global scope. */
function forbid<O extends object>(object: O, name: keyof O & string, calls: string[]): void {
  const original = object[name]
  Object.defineProperty(object, name, {
    configurable: true,
    writable: true,
    value: function forbidden() {
      calls.push(name)
      throw new Error(`${name} called while the client was built`)
    },
  })
  restores.push(() => Object.defineProperty(object, name, { configurable: true, writable: true, value: original }))
}

/** Runs `build` with timers, random numbers and AbortController forbidden; resolves the names it called. */
function forbiddenCalls(build: () => void): string[] {
  const calls: string[] = []
  forbid(globalThis, 'setTimeout', calls)
  forbid(globalThis, 'setInterval', calls)
  forbid(globalThis, 'AbortController', calls)
  forbid(crypto, 'getRandomValues', calls)
  forbid(crypto, 'randomUUID', calls)
  forbid(Math, 'random', calls)
  try {
    build()
  } catch {
    // The calls list says what was reached for.
  } finally {
    while (restores.length > 0) restores.pop()?.()
  }
  return calls
}

afterEach(() => {
  while (restores.length > 0) restores.pop()?.()
})

describe('building a client does nothing workerd forbids at global scope', () => {
  it('with the default memory adapter and every default option', () => {
    expect(forbiddenCalls(() => createCacheClient({ namespace: 'app' }))).toEqual([])
  })

  it('with the memory adapter, a namespace child and a definition', () => {
    const calls = forbiddenCalls(() => {
      const cache = createCacheClient({ adapter: memoryAdapter({ maxEntries: 100 }), namespace: 'app', ttl: '1m' })
      cache.namespace('rooms').define({ key: (id: string) => `room:${id}`, load: ([id]) => ({ id }) })
    })
    expect(calls).toEqual([])
  })

  it('with an @upstash/redis client and the Upstash adapter', () => {
    const calls = forbiddenCalls(() => {
      const redis = new Redis({ url: 'http://127.0.0.1:1', token: 'token', retry: false, enableTelemetry: false })
      createCacheClient({ adapter: upstashAdapter(redis), namespace: 'app', staleWhileRevalidate: '1m' })
    })
    expect(calls).toEqual([])
  })
})
