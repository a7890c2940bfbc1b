// test/kit/adapter.node-test.ts
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { memoryAdapter } from 'cacheward/memory'
import { adapterContract, expectFromAssert } from 'cacheward/testing'

// The adapter under test: put yours here. node:test has no expect: expectFromAssert builds the one the suite
// needs from node:assert, and `after` is node:test's afterAll.
const store = memoryAdapter({ maxEntries: 100_000 })

adapterContract(
  () => store,
  { describe, it, expect: expectFromAssert(assert), afterAll: after },
  { name: 'memory store' },
)
