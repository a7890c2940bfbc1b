/**
 * `npm run demo`, in process with fewer requests: the cache must save database queries in every app,
 * the report must be written with its chart, and the numbers must be sane.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runDemo } from '../../examples/demo/run.js'
import { scenarios } from '../../examples/demo/scenarios.js'
import { backendEnv } from './support.js'

const dir = await mkdtemp(join(tmpdir(), 'cacheward-demo-'))
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('npm run demo', () => {
  it('runs every app with and without the cache, and the cache saves database queries', {
    timeout: 180_000,
  }, async () => {
    const reportPath = join(dir, 'report.html')
    const result = await runDemo({ requests: 80, reportPath, quiet: true, env: {} })

    expect(result.backend).toBe('memory')
    expect(result.apps.map((a) => a.name)).toEqual(scenarios.map((s) => s.name))
    for (const app of result.apps) {
      expect(app.with.requests, app.name).toBe(app.without.requests)
      expect(app.with.requests, app.name).toBeGreaterThanOrEqual(80)
      expect(app.with.queries, app.name).toBeLessThan(app.without.queries)
      expect(app.with.hitRate, app.name).toBeGreaterThan(0)
      expect(app.with.hitRate, app.name).toBeLessThan(1)
      expect(app.without.hitRate, app.name).toBe(0)
      expect(app.statusMismatches, app.name).toBe(0)
      expect(app.with.p50, app.name).toBeGreaterThan(0)
      expect(app.with.p99, app.name).toBeGreaterThanOrEqual(app.with.p50)
    }

    const html = await readFile(reportPath, 'utf8')
    expect(html).toContain('<svg')
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/) // self-contained: no scripts, nothing fetched
    for (const app of result.apps) expect(html).toContain(`<th>${app.name}</th>`)
  })

  it('runs on Redis when REDIS_URL is set, and reports what each invalidation did', { timeout: 120_000 }, async () => {
    const reportPath = join(dir, 'redis.html')
    const result = await runDemo({
      requests: 150,
      reportPath,
      quiet: true,
      apps: ['rooms'],
      seed: 7,
      env: backendEnv('redis'),
    })
    expect(result.backend).toBe('redis')
    const [rooms] = result.apps
    expect(rooms?.with.queries).toBeLessThan(rooms?.without.queries ?? 0)
    // The apps run with l1 on Redis: repeated reads are answered in process.
    expect(rooms?.with.l1Hits).toBeGreaterThan(0)
    expect(rooms?.with.l1Hits).toBeLessThanOrEqual(rooms?.with.hits ?? 0)
    // The mix always writes at least once in 150 requests with this seed.
    expect(rooms?.invalidations).toEqual([
      expect.objectContaining({
        write: 'POST /rooms',
        calls: ["invalidateTags(['rooms:list'])"],
        nextRead: 'GET /rooms',
        nextQueries: 1,
      }),
    ])
    expect(await readFile(reportPath, 'utf8')).toContain('invalidateTags([&#39;rooms:list&#39;])')
  })
})
