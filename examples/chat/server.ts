/** Starts the chat example: `npm run example:chat` (PORT, DATABASE_URL, REDIS_URL or the Upstash variables). */
import { runServer } from '../shared/serve.js'
import { createApp } from './app.js'

await runServer({
  name: 'chat',
  port: 3004,
  hint: 'GET /users/1/sessions?page=2, /users/1/credits, /stats, /search?q=lisbon, /sessions/1/messages/latest?userId=1',
  start: ({ db, backend, cacheOptions }) => createApp({ db, backend, cacheOptions }),
})
