/**
 * `cacheward/testing`: what cacheward tests itself with, for your tests. Nothing here imports a test runner, a
 * validation library or a Node built-in: pass your runner's functions in, and it runs wherever your tests run.
 *
 * - `adapterContract(makeAdapter, { describe, it, expect, afterAll })` registers the contract suite every backend
 *   passes, so an adapter of your own can prove itself.
 * - `chaosAdapter(adapter, faults)` wraps an adapter to add latency, errors, hangs and lost replies, per operation and
 *   at run time, and counts the calls that reach it.
 * - `manualClock()` is a clock the test moves by hand.
 *
 * @example
 * import { describe, expect, it, afterAll } from 'vitest'
 * import { adapterContract } from 'cacheward/testing'
 *
 * adapterContract(() => myStoreAdapter(connect()), { describe, it, expect, afterAll }, { name: 'my store' })
 * @module
 */
export type { ChaosAdapter, ChaosFaults, ChaosOperation, ChaosOptions, Faults } from './chaos.js'
export { chaosAdapter } from './chaos.js'
export { adapterContract } from './contract.js'
export type { AssertModule, Expect, Matchers } from './expect.js'
export { expectFromAssert } from './expect.js'
export type { ManualClock } from './manual-clock.js'
export { manualClock } from './manual-clock.js'
export type { AdapterContractOptions, ContractRunner } from './suite.js'
