/**
 * The builds site's source of truth: four tables and the queries the routes need, with no caching
 * in sight. Every function is one statement through `db.query()`, so the database counts each one.
 */
import type { Database } from '../shared/db.js'

export interface GameClass {
  id: number
  slug: string
  name: string
  role: string
}

export interface BuildSummary {
  id: number
  title: string
  classSlug: string
  authorId: number
  likes: number
  createdAt: string
}

export interface Build extends BuildSummary {
  description: string
  authorName: string
}

export interface BuildPage {
  items: BuildSummary[]
  page: number
  pageSize: number
  total: number
  pages: number
}

/** One listing page as build ids, newest first; the builds themselves are read by id. */
export interface BuildIdPage {
  ids: number[]
  page: number
  pageSize: number
  total: number
  pages: number
}

export interface User {
  id: number
  name: string
}

export const PAGE_SIZE = 10

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS builds_classes (
    id serial PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    role text NOT NULL
  );
  CREATE TABLE IF NOT EXISTS builds_users (
    id serial PRIMARY KEY,
    name text NOT NULL
  );
  CREATE TABLE IF NOT EXISTS builds_builds (
    id serial PRIMARY KEY,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    class_id integer NOT NULL REFERENCES builds_classes(id),
    author_id integer NOT NULL REFERENCES builds_users(id),
    likes integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS builds_builds_class_idx ON builds_builds (class_id, created_at DESC);
  CREATE TABLE IF NOT EXISTS builds_likes (
    user_id integer NOT NULL REFERENCES builds_users(id),
    build_id integer NOT NULL REFERENCES builds_builds(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, build_id)
  );
`

const CLASSES: Array<[slug: string, name: string, role: string]> = [
  ['warrior', 'Warrior', 'melee'],
  ['ranger', 'Ranger', 'ranged'],
  ['mage', 'Mage', 'caster'],
  ['cleric', 'Cleric', 'support'],
  ['rogue', 'Rogue', 'melee'],
]
const USERS = ['ada', 'brook', 'cyd', 'dara', 'eli', 'fen', 'gus', 'hal']
const ADJECTIVES = ['Glass', 'Iron', 'Ember', 'Frost', 'Shadow', 'Storm', 'Thorn', 'Solar']
const NOUNS = ['Cannon', 'Wall', 'Dancer', 'Reaper', 'Warden', 'Striker', 'Oracle', 'Lancer']

/** Creates the tables and, when they are empty, seeds 5 classes, 8 users and 64 builds with some likes. */
export async function setUpSchema(db: Database): Promise<void> {
  await db.exec(SCHEMA)
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM builds_classes')
  if (row && row.n > 0) return
  const classes = CLASSES.map(([slug, name, role]) => `('${slug}', '${name}', '${role}')`).join(', ')
  const users = USERS.map((name) => `('${name}')`).join(', ')
  const builds: string[] = []
  for (let i = 0; i < 64; i++) {
    const title = `${ADJECTIVES[i % 8]} ${NOUNS[Math.floor(i / 8) % 8]}`
    // Older builds first, a minute apart, so "newest first" is a stable order.
    builds.push(
      `('${title}', 'Seeded build ${i + 1}.', ${(i % 5) + 1}, ${(i % 8) + 1}, now() - interval '${64 - i} minutes')`,
    )
  }
  // Seed SQL is built from the constants above only; user input always goes through parameters.
  await db.exec(`
    INSERT INTO builds_classes (slug, name, role) VALUES ${classes};
    INSERT INTO builds_users (name) VALUES ${users};
    INSERT INTO builds_builds (title, description, class_id, author_id, created_at) VALUES ${builds.join(', ')};
    INSERT INTO builds_likes (user_id, build_id) SELECT u.id, b.id FROM builds_users u, builds_builds b
      WHERE (u.id + b.id) % 7 = 0;
    UPDATE builds_builds b SET likes = (SELECT count(*) FROM builds_likes l WHERE l.build_id = b.id);
  `)
}

const SUMMARY_COLUMNS = `b.id, b.title, c.slug AS "classSlug", b.author_id AS "authorId", b.likes,
  to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "createdAt"`

export const store = {
  classes: (db: Database) => db.query<GameClass>('SELECT id, slug, name, role FROM builds_classes ORDER BY id'),

  /** The build ids of one page, newest first, and the total in the same statement (a window count). */
  async listBuilds(db: Database, classSlug: string | undefined, page: number): Promise<BuildIdPage> {
    const rows = await db.query<{ id: number; total: number }>(
      `SELECT b.id, count(*) OVER ()::int AS total
         FROM builds_builds b JOIN builds_classes c ON c.id = b.class_id
        WHERE $1::text IS NULL OR c.slug = $1
        ORDER BY b.created_at DESC, b.id DESC
        LIMIT $2 OFFSET $3`,
      [classSlug ?? null, PAGE_SIZE, (page - 1) * PAGE_SIZE],
    )
    // Past the last page the window count is absent; one cheap count answers "how many pages".
    const total = rows[0]?.total ?? (page === 1 ? 0 : await store.countBuilds(db, classSlug))
    return {
      ids: rows.map((row) => row.id),
      page,
      pageSize: PAGE_SIZE,
      total,
      pages: Math.ceil(total / PAGE_SIZE),
    }
  },

  async countBuilds(db: Database, classSlug: string | undefined): Promise<number> {
    const [row] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM builds_builds b JOIN builds_classes c ON c.id = b.class_id
        WHERE $1::text IS NULL OR c.slug = $1`,
      [classSlug ?? null],
    )
    return row?.n ?? 0
  },

  async build(db: Database, id: number): Promise<Build | undefined> {
    const [row] = await store.builds(db, [id])
    return row
  },

  /** The builds among `ids`, in one statement, in no particular order; unknown ids are left out. */
  builds: (db: Database, ids: readonly number[]) =>
    db.query<Build>(
      `SELECT ${SUMMARY_COLUMNS}, b.description, u.name AS "authorName"
         FROM builds_builds b JOIN builds_classes c ON c.id = b.class_id JOIN builds_users u ON u.id = b.author_id
        WHERE b.id = ANY($1::int[])`,
      [ids],
    ),

  async user(db: Database, id: number): Promise<User | undefined> {
    const [row] = await db.query<User>('SELECT id, name FROM builds_users WHERE id = $1', [id])
    return row
  },

  buildsBy: (db: Database, userId: number) =>
    db.query<BuildSummary>(
      `SELECT ${SUMMARY_COLUMNS} FROM builds_builds b JOIN builds_classes c ON c.id = b.class_id
        WHERE b.author_id = $1 ORDER BY b.created_at DESC, b.id DESC LIMIT 100`,
      [userId],
    ),

  likedBy: (db: Database, userId: number) =>
    db.query<BuildSummary>(
      `SELECT ${SUMMARY_COLUMNS} FROM builds_likes l
         JOIN builds_builds b ON b.id = l.build_id JOIN builds_classes c ON c.id = b.class_id
        WHERE l.user_id = $1 ORDER BY l.created_at DESC, b.id DESC LIMIT 100`,
      [userId],
    ),

  /**
   * Records a like once (a second like by the same user changes nothing) and keeps the build's
   * counter in step, in one statement. Resolves undefined when the build or the user does not exist.
   */
  async like(db: Database, buildId: number, userId: number): Promise<{ liked: boolean; likes: number } | undefined> {
    const [row] = await db.query<{ liked: boolean; likes: number | null; found: boolean }>(
      `WITH target AS (
         SELECT b.id FROM builds_builds b, builds_users u WHERE b.id = $1 AND u.id = $2
       ), inserted AS (
         INSERT INTO builds_likes (user_id, build_id) SELECT $2, id FROM target
         ON CONFLICT DO NOTHING RETURNING build_id
       ), bumped AS (
         UPDATE builds_builds SET likes = likes + 1 WHERE id IN (SELECT build_id FROM inserted) RETURNING likes
       )
       SELECT EXISTS (SELECT 1 FROM target) AS found,
              EXISTS (SELECT 1 FROM inserted) AS liked,
              COALESCE((SELECT likes FROM bumped), (SELECT likes FROM builds_builds WHERE id = $1)) AS likes`,
      [buildId, userId],
    )
    if (!row?.found) return undefined
    return { liked: row.liked, likes: row.likes ?? 0 }
  },

  /** Inserts a build; resolves undefined when the class or the author does not exist. */
  async createBuild(
    db: Database,
    input: { title: string; description: string; classSlug: string; authorId: number },
  ): Promise<BuildSummary | undefined> {
    const [row] = await db.query<{ id: number }>(
      `INSERT INTO builds_builds (title, description, class_id, author_id)
       SELECT $1, $2, c.id, u.id FROM builds_classes c, builds_users u WHERE c.slug = $3 AND u.id = $4
       RETURNING id`,
      [input.title, input.description, input.classSlug, input.authorId],
    )
    return row ? store.build(db, row.id) : undefined
  },
}
