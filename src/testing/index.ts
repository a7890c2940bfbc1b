/**
 * `cacheward/testing`: what cacheward tests itself with, for your tests. Nothing here imports a test runner, a
 * validation library or a Node built-in: pass your runner's functions in, and it runs wherever your tests run.
 *
 * - `adapterContract(makeAdapter, { describe, it, expect, afterAll })` registers the contract suite every backend
 *   passes, so an adapter of your own can prove itself.
 *
 * @example
 * import { describe, expect, it, afterAll } from 'vitest'
 * import { adapterContract } from 'cacheward/testing'
 *
 * adapterContract(() => myStoreAdapter(connect()), { describe, it, expect, afterAll }, { name: 'my store' })
 * @module
 */
export { adapterContract } from './contract.js'
export type { AssertModule, Expect, Matchers } from './expect.js'
export { expectFromAssert } from './expect.js'
export type { AdapterContractOptions, ContractRunner } from './suite.js'
