/**
 * The adapter contract: the behaviour suite every cacheward backend passes, registered in the caller's own test
 * runner.
 * @module
 */
import type { CacheAdapter } from '../index.js'
import { batchWriteCases } from './cases/batch-writes.js'
import { batchCases } from './cases/batches.js'
import { defineCases } from './cases/define.js'
import { failingBackendCases } from './cases/failing-backend.js'
import { getOrSetCases } from './cases/get-or-set.js'
import { metricsCases } from './cases/metrics.js'
import { namespaceCases } from './cases/namespaces.js'
import { raceCases } from './cases/race.js'
import { readWriteCases } from './cases/reads-writes.js'
import { tagCases } from './cases/tags.js'
import { type AdapterContractOptions, type ContractRunner, createSuite } from './suite.js'

/**
 * Registers the contract suite for an adapter, through the test runner's own `describe`, `it` and `expect`: the
 * cases cacheward's built-in adapters pass (loads and single-flight, both freshness windows, the cache-aside race
 * and its fence, tags, patterns, namespaces, exact metrics, a failing backend, foreign data). Each case works in a
 * namespace of its own, so the suite can share a backend with other data; it never touches keys outside them.
 *
 * `makeAdapter` is called for every client the suite makes: return adapters on one and the same backend (a new
 * connection each time, or one shared instance for an in-process store), since the suite checks what one client
 * sees of another's writes.
 * @example
 * // vitest (jest and bun:test alike)
 * import { afterAll, describe, expect, it } from 'vitest'
 * import { adapterContract } from 'cacheward/testing'
 *
 * const store = myStoreAdapter()
 * adapterContract(() => store, { describe, it, expect, afterAll }, { name: 'my store' })
 */
export function adapterContract(
  makeAdapter: () => CacheAdapter,
  runner: ContractRunner,
  options: AdapterContractOptions = {},
): void {
  runner.describe(`contract: ${options.name ?? 'adapter'}`, () => {
    const suite = createSuite(makeAdapter, runner, options)
    getOrSetCases(suite)
    readWriteCases(suite)
    raceCases(suite)
    tagCases(suite)
    defineCases(suite)
    batchCases(suite)
    batchWriteCases(suite)
    namespaceCases(suite)
    metricsCases(suite)
    failingBackendCases(suite)
    options.additionalTests?.()
  })
}
