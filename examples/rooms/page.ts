/** The server-rendered room page: the list as HTML plus the same data as JSON, so the page has no loading state. */
import type { Room } from './app.js'

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for HTML element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch)
}

/**
 * JSON that is safe inside `<script type="application/json">`: `<` becomes `\u003c`, so a room named
 * `</script><script>…` cannot close the element; `>`, `&` and the JS line separators are escaped too.
 * `JSON.parse` reads the escapes back as the original characters.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

export function renderPage(rooms: readonly Room[]): string {
  const items = rooms
    .map(
      (r) =>
        `<li data-id="${r.id}"><strong>${escapeHtml(r.name)}</strong> · ${r.capacity} seats · floor ${r.floor}</li>`,
    )
    .join('\n      ')
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Rooms</title>
    <style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:40rem}li{margin:.25rem 0}</style>
  </head>
  <body>
    <h1>Rooms</h1>
    <ul id="rooms">
      ${items}
    </ul>
    <script type="application/json" id="initial-rooms">${jsonForScript(rooms)}</script>
    <script>
      // The list above is already rendered; client code starts from the same data without a fetch.
      window.initialRooms = JSON.parse(document.getElementById('initial-rooms').textContent)
    </script>
  </body>
</html>
`
}
