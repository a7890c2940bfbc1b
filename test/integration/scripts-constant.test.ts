/**
 * No user string ever reaches a script body: keys, tags, patterns and values full of Lua and quote characters go
 * through every operation over ioredis while a MONITOR connection records what the server ran. Every EVALSHA names
 * one of the library's own scripts and every EVAL sends one of their constant sources; the user strings travel as
 * KEYS and ARGV only. On a private redis-server, so no other suite's commands are recorded.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { scripts } from '../../src/adapters/redis-wire.js'
import { createCacheClient } from '../../src/index.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

const cleanup: Array<() => unknown> = []
let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
  cleanup.push(() => server.stop())
})
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

// Strings that would change a script if they were spliced into its source.
const HOSTILE = [
  `"]]..redis.call('FLUSHALL')..[["`,
  `'); redis.call('FLUSHALL') --`,
  'end return 1 --',
  `\\" \\' \` $ {x} %s $\{y}`,
  'line\nbreak\r\n-- comment',
  '[==[ long ]==] ]] [[',
  '{braces}',
]

/** MONITOR prints each argument as Redis quotes it (sdscatrepr): escapes undone, so sources compare byte for byte. */
function unquote(arg: string): string {
  const named: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '\\': '\\', '"': '"' }
  return arg.replace(/\\(x[0-9a-f]{2}|.)/g, (_, c: string) =>
    c.length === 3 ? String.fromCharCode(Number.parseInt(c.slice(1), 16)) : (named[c] ?? c),
  )
}

describe('the scripts the server runs', () => {
  it('are only the library’s constant scripts, whatever keys, tags, patterns and values users pass [S3]', async () => {
    const redis = new Redis(server.url)
    const admin = new Redis(server.url)
    cleanup.push(
      () => redis.quit(),
      () => admin.quit(),
    )
    const monitor = await new Redis(server.url).monitor()
    cleanup.push(() => monitor.disconnect())
    const ran: string[][] = []
    monitor.on('monitor', (_time: string, args: string[]) => ran.push(args.map(unquote)))

    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: `ns"']]`, timeout: 2_000 })
    cleanup.push(() => cache.close())
    const errors: string[] = []
    cache.on('error', (e) => errors.push(e.error.message))

    for (const [i, text] of HOSTILE.entries()) {
      // Once with the script cache cold, so EVAL bodies are recorded too.
      if (i === 0) await admin.script('FLUSH')
      expect(await cache.getOrSet(text, () => ({ text }), { tags: [text, `tag ${text}`] })).toEqual({ text })
      expect(await cache.getOrSet(text, () => 'reloaded', { tags: [text, `tag ${text}`] })).toEqual({ text })
      await cache.set(`${text}:set`, text)
      expect(await cache.get(`${text}:set`)).toBe(text)
      await cache.delete(`${text}:set`)
      expect(await cache.get(`${text}:set`)).toBeUndefined()
      await cache.invalidateTags([text])
      expect(await cache.getOrSet(text, () => 'after-tag', { tags: [text] })).toBe('after-tag')
      expect(await cache.invalidatePattern(`${text.replace(/[*?[\]\\]/g, '\\$&')}*`)).toBeGreaterThanOrEqual(1)
      expect(await cache.get(text)).toBeUndefined()
    }
    expect(errors).toEqual([])
    expect(await admin.dbsize()).toBeGreaterThan(0) // no FLUSHALL ran
    await admin.ping() // MONITOR delivers in order: everything sent before it has been recorded once it shows
    await new Promise((resolve) => setTimeout(resolve, 50))

    const shas = new Set<string>(Object.values(scripts).map((s) => s.sha))
    const sources = new Set<string>(Object.values(scripts).map((s) => s.source))
    const evalsha = ran.filter((args) => args[0]?.toLowerCase() === 'evalsha')
    const evals = ran.filter((args) => args[0]?.toLowerCase() === 'eval')
    expect(evalsha.length).toBeGreaterThan(HOSTILE.length * 5)
    expect(evals.length).toBeGreaterThan(0)
    for (const args of evalsha) expect(shas, `EVALSHA ${args[1]}`).toContain(args[1])
    for (const args of evals) expect(sources.has(args[1] as string), `EVAL body ${args[1]?.slice(0, 60)}`).toBe(true)
    // The hostile strings did reach the server, as arguments.
    const argsSeen = [...evalsha, ...evals].flatMap((args) => args.slice(3)).join('\n')
    for (const text of HOSTILE) expect(argsSeen).toContain(text)
    expect(ran.some((args) => args[0]?.toLowerCase() === 'flushall')).toBe(false)
  })
})
