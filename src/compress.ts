/**
 * The stored form of an entry body: as the serializer wrote it, or gzipped and base64-encoded behind a marker,
 * so any reader (with or without `compress` configured, over any adapter, Upstash's JSON transport included) can
 * tell the two apart. Only web-standard globals (`CompressionStream`, `DecompressionStream`, `btoa`/`atob`): the
 * core runs in Workers, Deno and Bun too. Gzip is asynchronous there, so a compressed body is never decoded on a
 * synchronous path; those paths hand it to the asynchronous one.
 * @module
 */

/**
 * Prefix of a compressed body. U+0001 starts no JSON text (nor any serializer's output we know of), so a body the
 * serializer wrote is never mistaken for a compressed one; `gz1` names the format should another one follow.
 */
export const PACKED_PREFIX = '\u0001gz1:'

/** Whether a stored body is compressed (and must be unpacked, asynchronously, before it is decoded). */
export const isPacked = (body: string): boolean => body.startsWith(PACKED_PREFIX)

/** `compress`, resolved: bodies of at least `threshold` bytes are gzipped when that makes them smaller. */
export interface Compression {
  readonly threshold: number
}

/**
 * Bodies below this many bytes are stored as they are when `compress: true` takes the defaults. Each gzip or gunzip
 * costs about 0.6 ms whatever the size (stream set-up, Node 20), against about 0.03 ms to parse 10 KB of JSON: below
 * this, a hit would pay far more than the bytes saved are worth.
 */
export const DEFAULT_COMPRESS_THRESHOLD = 64 * 1024

/**
 * UTF-8 bytes of `text`, the size a backend stores. Counted without allocating (a 5 MB body is not copied to be
 * measured); `limit` lets a body that is clearly over or under it skip the count, so the answer is exact only
 * up to `limit` (anything over it is reported as at least `limit + 1`).
 */
export function utf8Bytes(text: string, limit = Number.POSITIVE_INFINITY): number {
  // Each UTF-16 unit is 1 to 3 bytes (a surrogate pair, two units, is 4).
  if (text.length > limit) return text.length
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    bytes += unit < 0x80 ? 1 : unit < 0x800 || (unit >= 0xd800 && unit < 0xe000) ? 2 : 3
  }
  return bytes
}

const canGzip = () => typeof CompressionStream === 'function'

/** What {@link pack} made of a body: the form to store and its size in bytes. */
export interface Packed {
  body: string
  bytes: number
}

/**
 * The form to store: gzipped when `compression` is on, the body has at least `threshold` bytes and the packed
 * form is smaller; else the body itself. Synchronous when nothing is compressed (the common, small case).
 */
export function pack(body: string, compression: Compression | undefined, limit: number): Packed | Promise<Packed> {
  // Counted exactly only when compression may apply; otherwise just far enough to compare with `limit`.
  // Without CompressionStream (Vercel's edge-runtime emulator has none), bodies are stored as they are.
  if (compression === undefined || body.length * 3 < compression.threshold || !canGzip()) {
    return { body, bytes: utf8Bytes(body, limit) }
  }
  const raw = new TextEncoder().encode(body)
  if (raw.length < compression.threshold) return { body, bytes: raw.length }
  return gzip(raw).then((zipped) => {
    const packed = PACKED_PREFIX + toBase64(zipped)
    // Base64 is ASCII: one byte per character.
    return packed.length < raw.length ? { body: packed, bytes: packed.length } : { body, bytes: raw.length }
  })
}

/**
 * Most bytes a packed body may inflate to, as a multiple of the reader's `maxValueBytes`: far above what real data
 * reaches (a listing of rows gzips about 8:1), far below gzip's worst case (about 1,000:1), so an entry planted in
 * the backend cannot make every reader inflate gigabytes. Readers check it whether or not they compress.
 */
export const MAX_INFLATION = 64

/**
 * The body the serializer wrote, from a packed one; rejects when it is not valid base64 of gzip data, or when it
 * inflates past `maxBytes` (the stream is cancelled there, not read to its end).
 */
export async function unpack(packed: string, maxBytes = Number.POSITIVE_INFINITY): Promise<string> {
  const chunks = await through(
    new DecompressionStream('gzip'),
    fromBase64(packed.slice(PACKED_PREFIX.length)),
    maxBytes,
  )
  const decoder = new TextDecoder()
  let text = ''
  for (const chunk of chunks) text += decoder.decode(chunk, { stream: true })
  return text + decoder.decode()
}

async function gzip(raw: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const chunks = await through(new CompressionStream('gzip'), raw)
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}

/**
 * Runs `bytes` through a (de)compression stream, straight to its writer and from its reader: about half the
 * per-call cost of going through `Blob` and `Response` (0.6 against 1.1 ms for a 9 KB body on Node 20), which is
 * most of what a small body pays.
 */
async function through(
  stream: CompressionStream | DecompressionStream,
  bytes: Uint8Array<ArrayBuffer>,
  maxBytes = Number.POSITIVE_INFINITY,
) {
  const writer = stream.writable.getWriter()
  // Not awaited: the writes settle as the reader drains, and a bad input surfaces as the reader's rejection.
  writer.write(bytes).catch(() => {})
  writer.close().catch(() => {})
  const reader = stream.readable.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return chunks
    total += (value as Uint8Array).length
    if (total > maxBytes) {
      await reader.cancel().catch(() => {})
      throw new RangeError(`inflates past ${maxBytes} bytes`)
    }
    chunks.push(value as Uint8Array)
  }
}

// btoa/atob over binary strings, in chunks so no call takes millions of arguments. (Uint8Array.toBase64 would be
// faster where it exists, but Node 20 to 24 lack it, and the bytes of the feature test count in every edge bundle.)
const CHUNK = 0x8000

function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[])
  }
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}
