/**
 * The chat app's source of truth: users with message credits, two-person sessions, messages.
 * Every function is one statement through `db.query()`, so the database counts each one.
 */
import type { Database } from '../shared/db.js'
import type { LatestMessage } from './structures.js'

export interface User {
  id: number
  name: string
}

export interface Session {
  id: number
  title: string
  ownerId: number
  peerId: number
}

export interface SessionSummary extends Session {
  messageCount: number
  updatedAt: string
}

export interface SessionPage {
  items: SessionSummary[]
  page: number
  pageSize: number
  total: number
  pages: number
}

/** One page of a user's sessions as ids, in list order; the sessions themselves are read by id. */
export interface SessionIdPage {
  ids: number[]
  page: number
  pageSize: number
  total: number
  pages: number
}

export interface Stats {
  users: number
  sessions: number
  messages: number
}

export interface SearchHit {
  sessionId: number
  title: string
  /** The newest matching message, when the match was in a message rather than the title. */
  snippet: string | null
}

export type SendResult =
  | { ok: true; message: LatestMessage; credits: number; peerId: number }
  | { ok: false; reason: 'no_session' | 'no_credits' }

export const PAGE_SIZE = 10
export const STARTING_CREDITS = 50

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS chat_users (
    id serial PRIMARY KEY,
    name text NOT NULL,
    credits integer NOT NULL CHECK (credits >= 0)
  );
  CREATE TABLE IF NOT EXISTS chat_sessions (
    id serial PRIMARY KEY,
    title text NOT NULL,
    owner_id integer NOT NULL REFERENCES chat_users(id),
    peer_id integer NOT NULL REFERENCES chat_users(id),
    message_count integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
  );
  CREATE TABLE IF NOT EXISTS chat_messages (
    id serial PRIMARY KEY,
    session_id integer NOT NULL REFERENCES chat_sessions(id),
    user_id integer NOT NULL REFERENCES chat_users(id),
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS chat_messages_session_idx ON chat_messages (session_id, id DESC);
`

const NAMES = ['ada', 'brook', 'cyd', 'dara', 'eli', 'fen']
const TOPICS = ['raid night', 'trip to Lisbon', 'bug triage', 'book club', 'moving boxes', 'birthday gift']
const LINES = ['are you around later?', 'sounds good to me', 'I pushed the fix', 'let us meet at 8', 'got it, thanks']

/** Creates the tables and, when they are empty, seeds 6 users, 36 sessions (25 with user 1) and 3 messages each. */
export async function setUpSchema(db: Database): Promise<void> {
  await db.exec(SCHEMA)
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_users')
  if (row && row.n > 0) return
  const sessions: string[] = []
  const messages: string[] = []
  for (let i = 0; i < 36; i++) {
    const owner = i < 25 ? 1 : 2 + (i % 4)
    const peer = ((owner + 1 + (i % 4)) % 6) + 1 // never the owner
    sessions.push(`('${TOPICS[i % 6]} #${i + 1}', ${owner}, ${peer}, 3, now() - interval '${36 - i} hours')`)
    for (let m = 0; m < 3; m++) {
      const at = `now() - interval '${36 - i} hours' - interval '${3 - m} minutes'`
      messages.push(`(${i + 1}, ${m % 2 === 0 ? owner : peer}, '${LINES[(i + m) % 5]}', ${at})`)
    }
  }
  // Seed SQL is built from the constants above only; user input always goes through parameters.
  await db.exec(`
    INSERT INTO chat_users (name, credits) VALUES ${NAMES.map((n) => `('${n}', ${STARTING_CREDITS})`).join(', ')};
    INSERT INTO chat_sessions (title, owner_id, peer_id, message_count, updated_at) VALUES ${sessions.join(', ')};
    INSERT INTO chat_messages (session_id, user_id, body, created_at) VALUES ${messages.join(', ')};
  `)
}

const TIMESTAMP = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

const SUMMARY_COLUMNS = `id, title, owner_id AS "ownerId", peer_id AS "peerId", message_count AS "messageCount",
  ${TIMESTAMP('updated_at')} AS "updatedAt"`

/** `%`, `_` and `\` are LIKE wildcards; a search for "100%" must match the text "100%". */
const likeLiteral = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`

export const store = {
  users: (db: Database) => db.query<User>('SELECT id, name FROM chat_users ORDER BY id'),

  async credits(db: Database, userId: number): Promise<number | undefined> {
    const [row] = await db.query<{ credits: number }>('SELECT credits FROM chat_users WHERE id = $1', [userId])
    return row?.credits
  },

  async stats(db: Database): Promise<Stats> {
    const [row] = await db.query<Stats>(
      `SELECT (SELECT count(*) FROM chat_users)::int AS users,
              (SELECT count(*) FROM chat_sessions WHERE deleted_at IS NULL)::int AS sessions,
              (SELECT count(*) FROM chat_messages)::int AS messages`,
    )
    return row!
  },

  /** The ids of a user's sessions (as owner or peer), most recently active first, with the total in one statement. */
  async sessionPage(db: Database, userId: number, page: number): Promise<SessionIdPage> {
    const rows = await db.query<{ id: number; total: number }>(
      `SELECT id, count(*) OVER ()::int AS total
         FROM chat_sessions
        WHERE (owner_id = $1 OR peer_id = $1) AND deleted_at IS NULL
        ORDER BY updated_at DESC, id DESC
        LIMIT $2 OFFSET $3`,
      [userId, PAGE_SIZE, (page - 1) * PAGE_SIZE],
    )
    const total = rows[0]?.total ?? 0 // past the last page: no rows, and nothing to page to
    return { ids: rows.map((row) => row.id), page, pageSize: PAGE_SIZE, total, pages: Math.ceil(total / PAGE_SIZE) }
  },

  /** A live session with its message count and last activity, or undefined (unknown or deleted). */
  async session(db: Database, id: number): Promise<SessionSummary | undefined> {
    const [row] = await store.sessions(db, [id])
    return row
  },

  /** The live sessions among `ids`, in one statement, in no particular order; unknown or deleted ids are left out. */
  sessions: (db: Database, ids: readonly number[]) =>
    db.query<SessionSummary>(
      `SELECT ${SUMMARY_COLUMNS} FROM chat_sessions WHERE id = ANY($1::int[]) AND deleted_at IS NULL`,
      [ids],
    ),

  /** Case-insensitive substring search over titles and messages of live sessions; at most 20 hits. */
  search: (db: Database, text: string) =>
    db.query<SearchHit>(
      `SELECT s.id AS "sessionId", s.title,
              CASE WHEN s.title ILIKE $1 THEN NULL ELSE (
                SELECT m.body FROM chat_messages m WHERE m.session_id = s.id AND m.body ILIKE $1
                 ORDER BY m.id DESC LIMIT 1) END AS snippet
         FROM chat_sessions s
        WHERE s.deleted_at IS NULL
          AND (s.title ILIKE $1 OR EXISTS (SELECT 1 FROM chat_messages m WHERE m.session_id = s.id AND m.body ILIKE $1))
        ORDER BY s.updated_at DESC, s.id DESC
        LIMIT 20`,
      [likeLiteral(text)],
    ),

  /** The newest `limit` messages of a session, oldest first. */
  latestMessages: (db: Database, sessionId: number, limit: number) =>
    db.query<LatestMessage>(
      `SELECT * FROM (
         SELECT id, session_id AS "sessionId", user_id AS "userId", body AS text, ${TIMESTAMP('created_at')} AS "createdAt"
           FROM chat_messages WHERE session_id = $1 ORDER BY id DESC LIMIT $2
       ) newest ORDER BY id`,
      [sessionId, limit],
    ),

  /**
   * Sends a message in one statement: the sender must take part in the live session and have a credit;
   * then the message is inserted, one credit is spent and the session moves to the top of both lists.
   */
  async send(db: Database, sessionId: number, userId: number, text: string): Promise<SendResult> {
    const [row] = await db.query<{
      found: boolean
      credits: number | null
      peerId: number | null
      message: LatestMessage | null
    }>(
      `WITH s AS (
         SELECT id, CASE WHEN owner_id = $2 THEN peer_id ELSE owner_id END AS peer_id FROM chat_sessions
          WHERE id = $1 AND deleted_at IS NULL AND (owner_id = $2 OR peer_id = $2)
       ), spent AS (
         UPDATE chat_users SET credits = credits - 1
          WHERE id = $2 AND credits > 0 AND EXISTS (SELECT 1 FROM s) RETURNING credits
       ), inserted AS (
         INSERT INTO chat_messages (session_id, user_id, body) SELECT $1, $2, $3 FROM spent
         RETURNING id, session_id, user_id, body, created_at
       ), touched AS (
         UPDATE chat_sessions SET message_count = message_count + 1, updated_at = now()
          WHERE id IN (SELECT session_id FROM inserted) RETURNING id
       )
       SELECT EXISTS (SELECT 1 FROM s) AS found,
              (SELECT credits FROM spent) AS credits,
              (SELECT peer_id FROM s) AS "peerId",
              (SELECT json_build_object('id', id, 'sessionId', session_id, 'userId', user_id, 'text', body,
                        'createdAt', ${TIMESTAMP('created_at')}) FROM inserted) AS message`,
      [sessionId, userId, text],
    )
    if (!row?.found) return { ok: false, reason: 'no_session' }
    if (!row.message || row.credits === null || row.peerId === null) return { ok: false, reason: 'no_credits' }
    return { ok: true, message: row.message, credits: row.credits, peerId: row.peerId }
  },

  /** Soft-deletes a live session the user takes part in; resolves its participants, or undefined. */
  async deleteSession(db: Database, sessionId: number, userId: number): Promise<Session | undefined> {
    const [row] = await db.query<Session>(
      `UPDATE chat_sessions SET deleted_at = now()
        WHERE id = $1 AND deleted_at IS NULL AND (owner_id = $2 OR peer_id = $2)
        RETURNING id, title, owner_id AS "ownerId", peer_id AS "peerId"`,
      [sessionId, userId],
    )
    return row
  },
}
