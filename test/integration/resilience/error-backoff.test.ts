/**
 * Resilience: errorBackoff, on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'
import type { CacheClientOptions } from '../../../src/index.js'
import { boom, describeOnBackends, sleep } from '../../support/resilience.js'

describeOnBackends('errorBackoff', ({ make, ns }) => {
  it('leaves a failing loader alone for errorBackoff after its failure was answered stale, then calls it again [F7]', async () => {
    const cache = make({ ttl: 50, staleIfError: '10s', errorBackoff: 300 })
    await cache.getOrSet('k', () => 'v1')
    await sleep(100)
    let calls = 0
    const failing = () => {
      calls++
      return boom()
    }
    expect(await cache.getOrSet('k', failing)).toBe('v1')
    expect(calls).toBe(1)
    for (let i = 0; i < 10; i++) expect(await cache.getOrSet('k', failing)).toBe('v1')
    expect(calls).toBe(1)
    expect(cache.metrics()).toMatchObject({ staleHits: 11, loadErrors: 1 })

    await sleep(350)
    expect(await cache.getOrSet('k', failing)).toBe('v1')
    expect(calls).toBe(2)
    await sleep(350)
    const recovered = () => {
      calls++
      return 'v2'
    }
    expect(await cache.getOrSet('k', recovered)).toBe('v2')
    expect(calls).toBe(3)
    expect(await cache.get('k')).toBe('v2')
  })

  it('defaults to 5 seconds', async () => {
    let now = Date.now()
    const cache = make({ ttl: 50, staleIfError: '10s', clock: { now: () => now } })
    await cache.getOrSet('k', () => 'v1')
    await sleep(100)
    let calls = 0
    const loader = (value: string | undefined) => () => {
      calls++
      return value ?? boom()
    }
    expect(await cache.getOrSet('k', loader(undefined))).toBe('v1')
    now += 4_900
    expect(await cache.getOrSet('k', loader('v2'))).toBe('v1')
    expect(calls).toBe(1)
    now += 200
    expect(await cache.getOrSet('k', loader('v2'))).toBe('v2')
    expect(calls).toBe(2)
  })

  it('holds back only the process that saw the failure, and never hides a fresh value another process stored', async () => {
    const namespace = ns()
    const options: CacheClientOptions = { namespace, ttl: 100, staleIfError: '10s', errorBackoff: '10s' }
    const a = make(options)
    const b = make(options)
    await a.getOrSet('k', () => 'v1')
    await sleep(150)
    let aCalls = 0
    const aFailing = () => {
      aCalls++
      return boom()
    }
    expect(await a.getOrSet('k', aFailing)).toBe('v1')
    let bCalls = 0
    expect(
      await b.getOrSet('k', () => {
        bCalls++
        return 'v2'
      }),
    ).toBe('v2')
    expect(bCalls).toBe(1)
    expect(await a.getOrSet('k', aFailing)).toBe('v2')
    expect(aCalls).toBe(1)
  })
})
