/** Starts the rooms example: `npm run example:rooms` (PORT, DATABASE_URL, REDIS_URL, NODE_ENV). */
import { runServer } from '../shared/serve.js'
import { createApp } from './app.js'

await runServer({
  name: 'rooms',
  port: 3001,
  hint: 'GET /, /rooms, /rooms/1, /admin/sync, /admin/metrics',
  start: ({ db, backend, logger, cacheOptions }) => createApp({ db, backend, logger, cacheOptions }),
})
