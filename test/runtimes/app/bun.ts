// Bun entry: Bun.serve on a free loopback port, printed as one JSON line for the harness.
import { createApp } from './app.js'

declare const Bun: {
  serve(options: { port: number; hostname: string; fetch: (request: Request) => Promise<Response> }): { port: number }
}

const handle = createApp()
const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handle })
console.log(JSON.stringify({ port: server.port }))
