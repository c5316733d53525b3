/**
 * POST /object/list-v2/:bucket {prefix?, limit?, cursor?, with_delimiter?, sortBy?: {column, order}}
 *   -> {hasNext, nextCursor?, nextCursorKey?, folders: [{id: null, name}], objects: [object]}
 *
 * Storage's listObjectsV2 (src/storage/object.ts, storage.search_v2): object names in full; with
 * `with_delimiter`, everything below the next '/' after the prefix collapses into one folder entry
 * `<prefix><segment>/` and objects carry `key`, their path segment at the prefix's level. Pages
 * are cursor-based: `nextCursor` is Storage's continuation token (base64 of `l:<startAfter>`,
 * `o:<order>`, `c:<column>`, `a:<column value>` lines). Sorting by created_at / updated_at is served
 * without the delimiter; with it, only by name (a 400 otherwise). At most 1000 entries a page.
 *
 * With the delimiter the folders are skipped with one seek each (names of a folder share its
 * prefix, so the next query starts after `<folder>` + the character after '/'), so a page costs at
 * most limit + 1 small queries however many objects a folder holds. Runs as the caller: RLS decides.
 */
import type { Hono } from 'hono';
import { callerOf, optionalInteger, readJson, scopeOf, type StorageDeps, type StorageEnv } from './context.ts';
import type { Tx } from './database.ts';
import { escapeLike } from './buckets.ts';
import { ERRORS } from './errors.ts';

const MAX_KEYS = 1000;

interface Cursor { startAfter: string; order: 'asc' | 'desc'; column?: string; after?: string }

const TOKEN_PARTS: Record<string, keyof Cursor> = { l: 'startAfter', o: 'order', c: 'column', a: 'after' };

function encodeCursor(cursor: Cursor): string {
  const lines = Object.entries(TOKEN_PARTS).filter(([, field]) => cursor[field]).map(([key, field]) => `${key}:${cursor[field]}`);
  return Buffer.from(lines.join('\n')).toString('base64');
}

function decodeCursor(token: string): Cursor {
  const cursor: Cursor = { startAfter: '', order: 'asc' };
  for (const line of Buffer.from(token, 'base64').toString().split('\n')) {
    const match = /^(\S):(.*)$/.exec(line);
    const field = match && TOKEN_PARTS[match[1]!];
    if (!field) throw ERRORS.invalidParameter('continuation token');
    (cursor as unknown as Record<string, string>)[field] = match[2]!;
  }
  if (cursor.order !== 'asc' && cursor.order !== 'desc') throw ERRORS.invalidParameter('continuation token');
  return cursor;
}

interface Row { id: string | null; name: string; key?: string; metadata?: unknown; updated_at?: Date; created_at?: Date; last_accessed_at?: Date }

const COLUMNS = 'id, name, metadata, updated_at, created_at, last_accessed_at';

export function listV2Routes(app: Hono<StorageEnv>, deps: StorageDeps) {
  app.post('/object/list-v2/:bucket', async (c) => {
    const caller = callerOf(deps, c);
    const bucketId = c.req.param('bucket');
    const body = await readJson(c);
    const prefix = typeof body.prefix === 'string' ? body.prefix : '';
    if (body.prefix !== undefined && typeof body.prefix !== 'string') throw ERRORS.invalidRequest('body/prefix must be string');
    const limit = Math.min(optionalInteger(body.limit, 'limit', 1) ?? MAX_KEYS, MAX_KEYS);
    const delimiter = body.with_delimiter === true;
    const sortBy = (body.sortBy ?? {}) as { column?: unknown; order?: unknown };
    if (sortBy.column !== undefined && !['name', 'updated_at', 'created_at'].includes(sortBy.column as string)) {
      throw ERRORS.invalidRequest('body/sortBy/column must be equal to one of the allowed values');
    }
    if (sortBy.order !== undefined && sortBy.order !== 'asc' && sortBy.order !== 'desc') {
      throw ERRORS.invalidRequest('body/sortBy/order must be equal to one of the allowed values');
    }
    const token = typeof body.cursor === 'string' && body.cursor ? decodeCursor(body.cursor) : undefined;
    const order = token?.order ?? (sortBy.order as 'asc' | 'desc' | undefined) ?? 'asc';
    const column = token?.column ?? (sortBy.column as string | undefined) ?? 'name';
    if (delimiter && column !== 'name') throw ERRORS.invalidRequest('The embedded Storage lists with a delimiter by name only');

    const rows = await deps.db.asCaller(scopeOf(c, caller, 'storage.object.list_v2'), (sql) => delimiter
      ? delimited(sql, bucketId, prefix, limit + 1, order, token?.startAfter ?? '')
      : flat(sql, bucketId, prefix, limit + 1, order, column, token));
    const hasNext = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const levels = prefix ? prefix.split('/').length : 1;
    const result: Record<string, unknown> = {
      hasNext,
      folders: page.filter((row) => row.id === null).map((row) => ({ id: null, name: row.name })),
      objects: page.filter((row) => row.id !== null).map((row) => delimiter ? { ...row, key: row.name.split('/')[levels - 1] } : row),
    };
    if (hasNext && last) {
      const after = column !== 'name' ? (last as unknown as Record<string, unknown>)[column] : undefined;
      result.nextCursor = encodeCursor({
        startAfter: last.name, order, ...(column !== 'name' ? { column } : {}),
        ...(after instanceof Date ? { after: after.toISOString() } : {}),
      });
      result.nextCursorKey = last.name;
    }
    return c.json(result);
  });
}

function flat(sql: Tx, bucketId: string, prefix: string, take: number, order: 'asc' | 'desc', column: string, cursor?: Cursor) {
  const direction = order === 'desc' ? sql`desc` : sql`asc`;
  const beyond = order === 'desc' ? sql`<` : sql`>`;
  let page = sql`true`;
  if (cursor && column !== 'name' && cursor.after) {
    page = sql`(date_trunc('milliseconds', ${sql(column)}), name collate "C") ${beyond} (${cursor.after}::timestamptz, ${cursor.startAfter}::text)`;
  } else if (cursor) {
    page = sql`name collate "C" ${beyond} ${cursor.startAfter}`;
  }
  return sql<Row[]>`
    select ${sql.unsafe(COLUMNS)} from storage.objects
    where bucket_id = ${bucketId} and name like ${`${escapeLike(prefix)}%`} and ${page}
    order by ${column !== 'name' ? sql`${sql(column)} ${direction},` : sql``} name collate "C" ${direction}
    limit ${take}`;
}

/** Name order with folders collapsed: each folder is one entry, skipped past with one seek. */
async function delimited(sql: Tx, bucketId: string, prefix: string, take: number, order: 'asc' | 'desc', startAfter: string): Promise<Row[]> {
  const entries: Row[] = [];
  const ascending = order === 'asc';
  // The next query's bound: names strictly beyond `bound`, or (after a folder) beyond the whole folder.
  let bound = startAfter;
  let skipFolder = startAfter.endsWith('/');
  while (entries.length < take) {
    const remaining = take - entries.length;
    let beyond = sql`true`;
    if (bound) {
      if (skipFolder) {
        // A folder `p/` holds exactly the names starting with it: those between `p/` and `p0` ('0' follows '/').
        beyond = ascending ? sql`name collate "C" >= ${`${bound.slice(0, -1)}0`}` : sql`name collate "C" < ${bound}`;
      } else {
        beyond = ascending ? sql`name collate "C" > ${bound}` : sql`name collate "C" < ${bound}`;
      }
    }
    const rows = await sql<Row[]>`
      select ${sql.unsafe(COLUMNS)} from storage.objects
      where bucket_id = ${bucketId} and name like ${`${escapeLike(prefix)}%`} and ${beyond}
      order by name collate "C" ${ascending ? sql`asc` : sql`desc`}
      limit ${remaining}`;
    if (rows.length === 0) break;
    let seek = false;
    for (const row of rows) {
      const slash = row.name.indexOf('/', prefix.length);
      if (slash >= 0) {
        const folder = row.name.slice(0, slash + 1);
        entries.push({ id: null, name: folder });
        bound = folder;
        skipFolder = true;
        seek = true;
        break;
      }
      entries.push(row);
      bound = row.name;
      skipFolder = false;
    }
    if (!seek && rows.length < remaining) break;
  }
  return entries;
}
