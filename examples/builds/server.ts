/** Starts the builds example: `npm run example:builds` (PORT, DATABASE_URL, REDIS_URL or the Upstash variables). */
import { runServer } from '../shared/serve.js'
import { createApp } from './app.js'

await runServer({
  name: 'builds',
  port: 3003,
  hint: 'GET /builds, /builds?class=mage&page=2, /builds/1, /classes, /users/1/likes, /metrics',
  start: ({ db, backend, cacheOptions }) => createApp({ db, backend, cacheOptions }),
})
