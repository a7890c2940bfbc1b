// Fails fast with one actionable line when the integration tests cannot start redis-server.
import { spawnSync } from 'node:child_process'

const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' })
if (probe.error?.code === 'ENOENT') {
  process.stderr.write(
    'cacheward tests need redis-server on PATH: install it (apt-get install -y redis-server, or brew install redis).\n',
  )
  process.exit(1)
}
