/** The demo's outputs: a text table for the terminal and a self-contained HTML page (inline SVG, no scripts). */
import type { AppResult, DemoResult, Invalidation } from './run.js'

const ms = (n: number) => n.toFixed(2)
const pct = (n: number) => `${(n * 100).toFixed(1)}%`
const saved = (a: AppResult) =>
  a.without.queries === 0 ? '0%' : `${Math.round((1 - a.with.queries / a.without.queries) * 100)}%`
const queries = (n: number) => `${n} ${n === 1 ? 'query' : 'queries'}`

/** "POST /rooms → invalidateTags(['rooms:list']) → next GET /rooms reloaded (1 query)". */
export function describeInvalidation(i: Invalidation): string {
  const calls = i.calls.length > 0 ? i.calls.join(' + ') : 'no invalidation'
  const outcome = i.nextQueries > 0 ? `reloaded (${queries(i.nextQueries)})` : 'served from the cache (0 queries)'
  return `${i.write} → ${calls} → next ${i.nextRead} ${outcome}${i.count > 1 ? `   [${i.count} such writes]` : ''}`
}

export function renderTable(result: DemoResult): string {
  // On Redis and Upstash the apps run with l1: the share of hits the in-process tier answered.
  const tier = result.backend !== 'memory'
  const header = [
    'app',
    'requests',
    'db queries off',
    'db queries on',
    'saved',
    'hit rate',
    ...(tier ? ['hits from l1'] : []),
    'p50 ms off',
    'p50 ms on',
    'p99 ms off',
    'p99 ms on',
  ]
  const rows = result.apps.map((a) => [
    a.name,
    String(a.with.requests),
    String(a.without.queries),
    String(a.with.queries),
    saved(a),
    pct(a.with.hitRate),
    ...(tier ? [pct(a.with.hits === 0 ? 0 : a.with.l1Hits / a.with.hits)] : []),
    ms(a.without.p50),
    ms(a.with.p50),
    ms(a.without.p99),
    ms(a.with.p99),
  ])
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)))
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')
  const out = [
    `cache ${result.backend}, embedded PGlite; in-process app.request(), one request at a time; off = enabled: false`,
    '',
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
  ]
  for (const a of result.apps) {
    out.push('', `${a.name}: what each invalidation did (cache on)`)
    if (a.invalidations.length === 0) out.push('  (no writes in this run)')
    for (const i of a.invalidations) out.push(`  ${describeInvalidation(i)}`)
    if (a.statusMismatches > 0)
      out.push(`  ! ${a.statusMismatches} responses had another status than without the cache`)
  }
  out.push(
    '',
    'hit rate: hits over cache lookups (a request may make several, or none). Start-up (schema, seed, warming) is not counted.',
  )
  return out.join('\n')
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch)

/** A grouped horizontal bar chart: one pair of bars (off, on) per app. */
function barChart(title: string, apps: AppResult[], value: (a: AppResult, on: boolean) => number, unit: string) {
  const rowHeight = 46
  const left = 90
  const width = 560
  const barMax = width - left - 90
  const max = Math.max(1e-9, ...apps.flatMap((a) => [value(a, false), value(a, true)]))
  const height = 30 + apps.length * rowHeight + 24
  const bars = apps
    .map((a, i) => {
      const y = 30 + i * rowHeight
      const bar = (on: boolean, dy: number) => {
        const v = value(a, on)
        const w = Math.max(1, (v / max) * barMax)
        const text = unit === 'ms' ? ms(v) : String(v)
        return `<rect x="${left}" y="${y + dy}" width="${w.toFixed(1)}" height="16" class="${on ? 'on' : 'off'}"/>
    <text x="${(left + w + 6).toFixed(1)}" y="${y + dy + 12}">${text}${unit === 'ms' ? ' ms' : ''}</text>`
      }
      return `<text x="0" y="${y + 22}" class="name">${esc(a.name)}</text>
    ${bar(false, 0)}
    ${bar(true, 18)}`
    })
    .join('\n    ')
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">
    <text x="0" y="16" class="title">${esc(title)}</text>
    ${bars}
    <rect x="${left}" y="${height - 16}" width="12" height="12" class="off"/><text x="${left + 16}" y="${height - 6}">cache off</text>
    <rect x="${left + 100}" y="${height - 16}" width="12" height="12" class="on"/><text x="${left + 116}" y="${height - 6}">cache on</text>
  </svg>`
}

export function renderHtml(result: DemoResult): string {
  const rows = result.apps
    .map(
      (
        a,
      ) => `<tr><th>${esc(a.name)}</th><td>${a.with.requests}</td><td>${a.without.queries}</td><td>${a.with.queries}</td>
        <td>${saved(a)}</td><td>${pct(a.with.hitRate)}</td><td>${ms(a.without.p50)}</td><td>${ms(a.with.p50)}</td>
        <td>${ms(a.without.p99)}</td><td>${ms(a.with.p99)}</td></tr>`,
    )
    .join('\n')
  const sections = result.apps
    .map(
      (a) => `<section><h3>${esc(a.name)}</h3><p class="mix">${esc(a.mix)}</p><ul>
        ${a.invalidations.map((i) => `<li><code>${esc(describeInvalidation(i))}</code></li>`).join('\n')}
        ${a.invalidations.length === 0 ? '<li>No writes in this run.</li>' : ''}
      </ul>${a.statusMismatches > 0 ? `<p class="warn">${a.statusMismatches} responses had another status than without the cache.</p>` : ''}</section>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cacheward demo report</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d2430 }
  table { border-collapse: collapse; margin: 1rem 0 }
  th, td { padding: .3rem .7rem; border-bottom: 1px solid #d8dde6; text-align: right }
  th:first-child, thead th { text-align: left }
  code { font-size: 13px }
  svg text { font: 12px system-ui, sans-serif; fill: #1d2430 }
  svg .title { font-weight: 600; font-size: 14px }
  svg .name { font-weight: 600 }
  .off { fill: #c3c9d4 } .on { fill: #2f6fde }
  .mix { color: #5a6475 } .warn { color: #b3261e }
  .charts { display: flex; flex-wrap: wrap; gap: 2rem }
</style>
</head>
<body>
<h1>cacheward demo</h1>
<p>Each app got the same ${result.requestsPerApp} seeded requests twice: with caching off
(<code>cacheOptions: { enabled: false }</code>) and on. Cache backend: <strong>${esc(result.backend)}</strong>.
Database: embedded PGlite, fresh and identically seeded for each run. Requests went through
<code>app.request()</code> in one process, one at a time; start-up (schema, seed, warming) is not counted.</p>
<div class="charts">
  ${barChart('Database queries', result.apps, (a, on) => (on ? a.with.queries : a.without.queries), 'queries')}
  ${barChart('p50 latency', result.apps, (a, on) => (on ? a.with.p50 : a.without.p50), 'ms')}
</div>
<table>
  <thead><tr><th>app</th><th>requests</th><th>db queries off</th><th>db queries on</th><th>saved</th><th>hit rate</th>
  <th>p50 ms off</th><th>p50 ms on</th><th>p99 ms off</th><th>p99 ms on</th></tr></thead>
  <tbody>
${rows}
  </tbody>
</table>
<h2>What each invalidation did</h2>
<p>The calls the cache sent to its backend during each kind of write (the first of its kind), and what the read
right after it cost.</p>
${sections}
<p class="mix">Hit rate: hits over cache lookups; a request may make several lookups, or none.</p>
</body>
</html>
`
}
