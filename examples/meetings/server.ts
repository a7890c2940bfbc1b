/** Starts the meetings example: `npm run example:meetings` (PORT, DATABASE_URL, REDIS_URL). */
import { runServer } from '../shared/serve.js'
import { createApp } from './app.js'

await runServer({
  name: 'meetings',
  port: 3002,
  hint: 'GET /users/1/meetings, /meetings/1, /users/1, /health',
  start: ({ db, backend, cacheOptions }) => createApp({ db, backend, cacheOptions }),
})
