/**
 * The repository's entry to the contract suite, which lives in src/testing/ and ships as `cacheward/testing`
 * (`adapterContract`). Every backend's contract file goes through it, so the exported suite is the one that runs
 * here and cannot drift from it: memory, ioredis-mock, real redis-server (ioredis 5 and 6), a real 3-master cluster,
 * the real @upstash/redis client, the redlock provider.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { CacheAdapter } from '../../src/index.js'
import { type AdapterContractOptions, adapterContract } from '../../src/testing/index.js'

/** One backend under test: its adapters and the options of {@link adapterContract}. */
export interface ContractTarget extends Omit<AdapterContractOptions, 'name'> {
  name: string
  /** An adapter on the backend under test. */
  makeAdapter(): CacheAdapter
  /** A second, independent adapter on the same backend: another process, as far as the cache can tell. */
  makePeer(): CacheAdapter
}

export function defineContractSuite({ makeAdapter, ...options }: ContractTarget): void {
  adapterContract(makeAdapter, { describe, it, expect, afterAll }, options)
}
