/**
 * Bucket routes of the embedded Storage (supabase/storage src/http/routes/bucket/*):
 *
 *   POST   /bucket              {name, id?, public?, file_size_limit?, allowed_mime_types?, type?} -> {name}
 *   GET    /bucket              ?limit&offset&sortColumn&sortOrder&search -> [bucket]
 *   GET    /bucket/:id          -> bucket
 *   PUT    /bucket/:id          {public?, file_size_limit?, allowed_mime_types?} -> {message}
 *   POST   /bucket/:id/empty    -> {message}
 *   DELETE /bucket/:id          -> {message}; 409 ResourceNotEmpty while objects remain
 *
 * Every statement runs as the caller, so RLS on storage.buckets / storage.objects decides (with no
 * policy on buckets, only service_role creates, updates and deletes buckets, as on hosted).
 */
import type { Hono } from 'hono';
import {
  callerOf, mustBeValidBucketName, mustBeValidMimeTypes, optionalInteger, optionalString, parseFileSize, readJson,
  requiredString, scopeOf, isUuid, type StorageDeps, type StorageEnv,
} from './context.ts';
import type { Tx } from './database.ts';
import { ERRORS } from './errors.ts';

/** Objects one empty-bucket call removes at most; a second call resumes (Storage queues the rest too). */
export const EMPTY_BUCKET_MAX_OBJECTS = 100_000;
const EMPTY_BUCKET_BATCH = 1_000;

export interface BucketRow {
  id: string;
  name: string;
  public: boolean;
  file_size_limit: number | null;
  allowed_mime_types: string[] | null;
}

/** A bucket as the storage admin sees it (Storage's asSuperUser().findBucket), or undefined. */
export async function findBucket(sql: Tx, id: string): Promise<BucketRow | undefined> {
  const [row] = await sql<BucketRow[]>`
    select id, name, public, file_size_limit, allowed_mime_types from storage.buckets where id = ${id}`;
  return row;
}

function fileSizeLimitOf(deps: StorageDeps, value: unknown): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  const limit = parseFileSize(value);
  if (limit > deps.fileSizeLimit) throw ERRORS.entityTooLarge();
  return limit;
}

function optionalBoolean(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw ERRORS.invalidRequest(`body/${name} must be boolean`);
  return value;
}

const BUCKET_COLUMNS = 'id, name, owner, public, type, file_size_limit, allowed_mime_types, created_at, updated_at';
const SORT_COLUMNS = new Set(['id', 'name', 'created_at', 'updated_at']);

export function bucketRoutes(app: Hono<StorageEnv>, deps: StorageDeps) {
  app.post('/bucket', async (c) => {
    const caller = callerOf(deps, c);
    const body = await readJson(c);
    const name = requiredString(body, 'name');
    const id = optionalString(body, 'id') || name;
    mustBeValidBucketName(name);
    mustBeValidBucketName(id);
    const type = optionalString(body, 'type') ?? 'STANDARD';
    if (type !== 'STANDARD') throw ERRORS.invalidRequest(`Bucket type ${type} is not supported by the embedded Storage`);
    const isPublic = optionalBoolean(body, 'public') ?? false;
    const fileSizeLimit = fileSizeLimitOf(deps, body.file_size_limit) ?? null;
    const allowed = body.allowed_mime_types === undefined ? null : mustBeValidMimeTypes(body.allowed_mime_types);
    const owner = caller.sub;
    await deps.db.asCaller(scopeOf(c, caller, 'storage.bucket.create'), async (sql) => {
      const [existing] = await sql`select 1 from storage.buckets where id = ${id} or name = ${name}`;
      if (existing) throw ERRORS.bucketAlreadyExists();
      await sql`insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types)
        values (${id}, ${name}, ${isUuid(owner) ? owner : null}, ${owner ?? null}, ${isPublic}, ${fileSizeLimit}, ${allowed})`;
    });
    return c.json({ name });
  });

  app.get('/bucket', async (c) => {
    const caller = callerOf(deps, c);
    const limit = optionalInteger(c.req.query('limit'), 'limit', 1);
    const offset = optionalInteger(c.req.query('offset'), 'offset', 0) ?? 0;
    const sortColumn = c.req.query('sortColumn') ?? 'name';
    const sortOrder = (c.req.query('sortOrder') ?? 'asc').toLowerCase();
    if (!SORT_COLUMNS.has(sortColumn)) throw ERRORS.invalidRequest('querystring/sortColumn must be equal to one of the allowed values');
    if (sortOrder !== 'asc' && sortOrder !== 'desc') throw ERRORS.invalidRequest('querystring/sortOrder must be equal to one of the allowed values');
    const search = c.req.query('search');
    const rows = await deps.db.asCaller(scopeOf(c, caller, 'storage.bucket.list'), (sql) => sql`
      select ${sql.unsafe(BUCKET_COLUMNS)} from storage.buckets
      where ${search ? sql`name ilike ${`%${escapeLike(search)}%`}` : sql`true`}
      order by ${sql(sortColumn)} ${sortOrder === 'desc' ? sql`desc` : sql`asc`}
      ${limit === undefined ? sql`` : sql`limit ${limit}`} offset ${offset}`);
    return c.json(rows);
  });

  app.get('/bucket/:id', async (c) => {
    const caller = callerOf(deps, c);
    const id = c.req.param('id');
    const [row] = await deps.db.asCaller(scopeOf(c, caller, 'storage.bucket.get'), (sql) => sql`
      select ${sql.unsafe(BUCKET_COLUMNS)} from storage.buckets where id = ${id}`);
    if (!row) throw ERRORS.noSuchBucket();
    return c.json(row);
  });

  app.put('/bucket/:id', async (c) => {
    const caller = callerOf(deps, c);
    const id = c.req.param('id');
    const body = await readJson(c);
    const isPublic = optionalBoolean(body, 'public');
    const fileSizeLimit = fileSizeLimitOf(deps, body.file_size_limit);
    const allowed = body.allowed_mime_types === undefined ? undefined : mustBeValidMimeTypes(body.allowed_mime_types);
    if (isPublic === undefined && fileSizeLimit === undefined && allowed === undefined) {
      throw ERRORS.invalidRequest("body must have required property 'public'");
    }
    await deps.db.asCaller(scopeOf(c, caller, 'storage.bucket.update'), async (sql) => {
      const changes: Record<string, unknown> = {};
      if (isPublic !== undefined) changes.public = isPublic;
      if (fileSizeLimit !== undefined) changes.file_size_limit = fileSizeLimit;
      if (allowed !== undefined) changes.allowed_mime_types = allowed;
      const updated = await sql`update storage.buckets set ${sql(changes)}, updated_at = now() where id = ${id} returning id`;
      if (updated.length === 0) throw ERRORS.noSuchBucket();
    });
    return c.json({ message: 'Successfully updated' });
  });

  app.post('/bucket/:id/empty', async (c) => {
    const caller = callerOf(deps, c);
    const id = c.req.param('id');
    await readJson(c);
    const scope = scopeOf(c, caller, 'storage.bucket.empty');
    const [bucket] = await deps.db.asCaller(scope, (sql) => sql`select id from storage.buckets where id = ${id}`);
    if (!bucket) throw ERRORS.noSuchBucket();
    // Batches, each its own transaction whose bytes go once it commits; bounded per call.
    for (let removed = 0; removed < EMPTY_BUCKET_MAX_OBJECTS;) {
      const versions = await deps.db.asCaller(scope, (sql) => sql<{ version: string | null }[]>`
        delete from storage.objects where id in (
          select id from storage.objects where bucket_id = ${id} limit ${EMPTY_BUCKET_BATCH} for update skip locked)
        returning version`);
      await deps.files.remove(versions.map((row) => row.version));
      if (versions.length < EMPTY_BUCKET_BATCH) break;
      removed += versions.length;
    }
    return c.json({ message: 'Successfully emptied' });
  });

  app.delete('/bucket/:id', async (c) => {
    const caller = callerOf(deps, c);
    const id = c.req.param('id');
    await readJson(c);
    await deps.db.asCaller(scopeOf(c, caller, 'storage.bucket.delete'), async (sql) => {
      const [bucket] = await sql`select id from storage.buckets where id = ${id} for update`;
      if (!bucket) throw ERRORS.noSuchBucket();
      // Counted as the owner (Storage's asSuperUser): objects the caller cannot see still count.
      await sql`set local role none`;
      const [object] = await sql`select 1 from storage.objects where bucket_id = ${id} limit 1`;
      if (object) throw ERRORS.bucketNotEmpty();
      await sql`select set_config('role', ${caller.role}, true)`;
      const deleted = await sql`delete from storage.buckets where id = ${id} returning id`;
      if (deleted.length === 0) throw ERRORS.noSuchBucket();
    });
    return c.json({ message: 'Successfully deleted' });
  });
}

export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`);
}
