/**
 * The testing guides' samples are files here, run as users run them: the vitest ones by this project, the node:test
 * ones by `node --test` in a child process, both against the built package (`cacheward/testing` from dist/).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { assertBuilt, describeRun, root, run } from '../package/helpers.js'

const kit = join(root, 'test', 'kit')
const nodeSamples = readdirSync(kit).filter((name) => name.endsWith('.node-test.ts'))

describe('the testing guides’ samples', () => {
  it('run under node:test, the adapter contract included, with every case passing', { timeout: 120_000 }, async () => {
    assertBuilt()
    expect(nodeSamples.sort()).toEqual(['adapter.node-test.ts', 'app.node-test.ts'])
    // tsx only strips the types (users run TypeScript tests with it, or compile them first).
    const result = await run(process.execPath, ['--import', 'tsx', '--test', ...nodeSamples.map((n) => join(kit, n))])
    const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(result.stdout)?.[1] ?? NaN)
    expect(result.code, describeRun('node --test', result)).toBe(0)
    expect([count('fail'), count('cancelled'), count('skipped')]).toEqual([0, 0, 0])
    // 2 app cases and the contract suite over the memory store (66 cases today; it may grow, not shrink much).
    expect(count('pass')).toBeGreaterThanOrEqual(60)
    expect(result.stdout).toContain('ok 1 - contract: memory store')
  })

  it.each(['docs/12-testing.md', 'docs/11b-testing-your-adapter.md'])(
    '%s shows each sample exactly as the file under test/kit/ that runs',
    (page) => {
      const text = readFileSync(join(root, page), 'utf8')
      const blocks = [...text.matchAll(/^```ts\n(\/\/ (test\/kit\/[\w.-]+)\n[\s\S]*?)^```$/gm)]
      expect(blocks.length, `${page} shows no sample from test/kit/`).toBeGreaterThanOrEqual(2)
      for (const [, code, file] of blocks) {
        expect(code, `${page}: the sample ${file} differs from the file; copy the file into the page`).toBe(
          readFileSync(join(root, file as string), 'utf8'),
        )
      }
    },
  )
})
