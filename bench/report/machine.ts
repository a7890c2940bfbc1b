/**
 * docs/benchmarks.md, "Machine and versions": where and with what the run was made.
 * @module
 */
import type { StoredResults } from '../results-file.js'
import { md } from './markdown.js'

/** The machine, the command and every package version of the run, as a table. */
export function renderMachine(r: StoredResults): string {
  const m = r.meta
  const rows: [string, string][] = [
    ['date', m.date],
    ['command', `\`${m.command ?? (m.quick ? 'BENCH_QUICK=1 npm run bench' : 'npm run bench')}\``],
    ['cacheward', `${m.cacheward} (\`${m.commit}\`), built \`dist/\``],
    ['CPU', `${m.cpu}, ${m.cpus} cores`],
    ['OS', `${m.os ? `${m.os}, ` : ''}${m.platform}`],
    ['Node.js', m.node],
    ['redis-server', `${m.redisServer}, loopback TCP, started by the bench`],
  ]
  const versions = {
    ioredis: m.ioredis,
    ...(m.nodeRedis ? { '@redis/client': m.nodeRedis } : {}),
    ...(r.peers?.versions ?? {}),
  }
  for (const [pkg, version] of Object.entries(versions)) rows.push([pkg, version])
  return md(['what', 'version / value'], rows, ['l', 'l'])
}
