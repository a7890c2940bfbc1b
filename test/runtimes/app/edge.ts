// Vercel edge-runtime entry: the service-worker style `fetch` event its VM dispatches requests to.
import { createApp } from './app.js'

interface FetchEvent {
  request: Request
  respondWith(response: Promise<Response>): void
}

const handle = createApp()

addEventListener('fetch', (event) => {
  const fetchEvent = event as unknown as FetchEvent
  fetchEvent.respondWith(handle(fetchEvent.request))
})
