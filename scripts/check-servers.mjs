// Fails fast with one actionable line when the integration tests cannot start the servers they need:
// redis-server and faketime (always) and PostgreSQL (the examples' DATABASE_URL tests; CACHEWARD_SKIP_POSTGRES=1 leaves them out).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'

const missing = []
const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' })
if (probe.error?.code === 'ENOENT') {
  missing.push(
    'cacheward tests need redis-server on PATH: install it (apt-get install -y redis-server, or brew install redis).',
  )
}

const onPath = spawnSync('initdb', ['--version'], { stdio: 'ignore' }).error?.code !== 'ENOENT'
const debian =
  existsSync('/usr/lib/postgresql') &&
  readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
if (process.env.CACHEWARD_SKIP_POSTGRES !== '1' && !onPath && !debian) {
  missing.push(
    'cacheward tests need PostgreSQL (initdb, postgres) for the examples: install it (apt-get install -y postgresql, or brew install postgresql), or set CACHEWARD_SKIP_POSTGRES=1 to leave those tests out.',
  )
}

if (spawnSync('faketime', ['--version'], { stdio: 'ignore' }).error?.code === 'ENOENT') {
  missing.push(
    'cacheward tests need faketime (libfaketime) for the clock-skew tests: install it (apt-get install -y faketime, or brew install libfaketime).',
  )
}

if (missing.length > 0) {
  process.stderr.write(`${missing.join('\n')}\n`)
  process.exit(1)
}
