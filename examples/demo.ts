/**
 * `npm run demo`: the four example apps, each sent the same seeded request mix with the cache off and
 * then on; prints a table and writes examples/report.html. No server needed (memory cache, embedded
 * PGlite); with REDIS_URL set the cache runs on Redis. `--requests=N` changes the count per app.
 */
import { runDemo } from './demo/run.js'

const flag = process.argv.find((arg) => arg.startsWith('--requests='))
const requests = flag ? Number(flag.slice('--requests='.length)) : 1000
if (!Number.isInteger(requests) || requests < 1) {
  console.error('--requests must be a positive whole number')
  process.exit(2)
}
await runDemo({ requests })
