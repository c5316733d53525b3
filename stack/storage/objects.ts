/**
 * Object routes of the embedded Storage that move bytes (supabase/storage src/http/routes/object/):
 *
 *   POST   /object/:bucket/*                 upload (x-upsert: true to replace) -> {Id, Key}
 *   PUT    /object/:bucket/*                 upload replacing (Storage's update: always upserts)
 *   GET    /object/:bucket/*                 download as the caller (also /object/authenticated/…)
 *   HEAD   /object/:bucket/*                 headers only (storage-js `exists`; also /object/authenticated/…)
 *   GET    /object/public/:bucket/*          download from a public bucket, no auth
 *   GET    /object/info/:bucket/*            metadata (also /object/info/authenticated/…, /object/info/public/…)
 *          HEAD and info follow Storage's getObjectInfo: objects of a public bucket are described to
 *          anyone, others only to a caller whose SELECT policies show them
 *   DELETE /object/:bucket/*                 remove one -> {message}
 *   DELETE /object/:bucket  {prefixes: []}   remove up to 1000 -> [removed objects]
 *
 * Reads run as the caller (RLS SELECT), public reads as the storage admin once the bucket is public.
 * A removed object's bytes are unlinked after the transaction that deleted its row commits.
 */
import type { Hono } from 'hono';
import { callerOf, mustBeValidKey, readJson, scopeOf, type StorageContext, type StorageDeps, type StorageEnv } from './context.ts';
import { findBucket } from './buckets.ts';
import { optionalCaller, type Caller } from './auth.ts';
import { infoOf, OBJECT_COLUMNS, renderObject, type ObjectRow } from './download.ts';
import { ERRORS } from './errors.ts';
import { canUpload, completeUpload, maxFileSizeOf, uploadBodyOf } from './upload.ts';

export const MAX_OBJECTS_PER_REQUEST = 1000;

/** `:bucket/*` of a route: the bucket id and the object name (percent-decoded once by the router). */
export function objectPath(c: StorageContext): { bucketId: string; name: string } {
  const bucketId = c.req.param('bucket')!;
  const name = c.req.param('name') ?? '';
  return { bucketId, name };
}

export async function findObjectAs(deps: StorageDeps, c: StorageContext, caller: Caller, operation: string,
  bucketId: string, name: string): Promise<ObjectRow> {
  const [row] = await deps.db.asCaller(scopeOf(c, caller, operation), (sql) => sql<ObjectRow[]>`
    select ${sql.unsafe(OBJECT_COLUMNS)} from storage.objects where bucket_id = ${bucketId} and name = ${name}`);
  if (!row) throw ERRORS.noSuchKey();
  return row;
}

export async function findObjectAsAdmin(deps: StorageDeps, operation: string, bucketId: string, name: string): Promise<ObjectRow> {
  const [row] = await deps.db.asAdmin(operation, (sql) => sql<ObjectRow[]>`
    select ${sql.unsafe(OBJECT_COLUMNS)} from storage.objects where bucket_id = ${bucketId} and name = ${name}`);
  if (!row) throw ERRORS.noSuchKey();
  return row;
}

async function upload(deps: StorageDeps, c: StorageContext, upsert: boolean, operation: string) {
  const caller = callerOf(deps, c);
  const { bucketId, name } = objectPath(c);
  mustBeValidKey(name);
  const bucket = await deps.db.asAdmin(operation, (sql) => findBucket(sql, bucketId));
  if (!bucket) throw ERRORS.noSuchBucket();
  const maxBytes = maxFileSizeOf(deps, bucket);
  const body = await uploadBodyOf(c.env.incoming, bucket, maxBytes);
  const scope = scopeOf(c, caller, operation);
  const target = { bucketId, name, upsert, ...(caller.sub ? { owner: caller.sub } : {}) };
  await canUpload(deps, scope, target, { mimetype: body.mimeType, ...(body.declaredLength !== undefined ? { contentLength: body.declaredLength } : {}) }, body.userMetadata);
  const stored = await deps.files.receive(body.stream, maxBytes);
  const { id } = await completeUpload(deps, scope, target, stored.tempPath,
    { size: stored.size, eTag: stored.eTag, mimeType: body.mimeType, cacheControl: body.cacheControl }, body.userMetadata);
  return c.json({ Id: id, Key: `${bucketId}/${name}` });
}

async function publicBucketOrFail(deps: StorageDeps, bucketId: string, operation: string) {
  const bucket = await deps.db.asAdmin(operation, (sql) => findBucket(sql, bucketId));
  if (!bucket || !bucket.public) throw ERRORS.noSuchBucket();
  return bucket;
}

export function objectRoutes(app: Hono<StorageEnv>, deps: StorageDeps) {
  const NAME = ':name{.+}';

  app.get(`/object/public/:bucket/${NAME}`, async (c) => {
    const { bucketId, name } = objectPath(c);
    await publicBucketOrFail(deps, bucketId, 'storage.object.get_public');
    return renderObject(deps, c, await findObjectAsAdmin(deps, 'storage.object.get_public', bucketId, name));
  });

  /**
   * Storage's getObjectInfo requestHandler (info as JSON, or HEAD): the bucket as the storage admin;
   * without a valid JWT (where the route allows none) only a public bucket answers; a public bucket
   * (or the public route) reads the object as the admin, else as the caller under RLS.
   */
  const describe = (mode: 'info' | 'head', publicRoute: boolean, jwt: 'required' | 'optional') => async (c: StorageContext) => {
    const caller = jwt === 'required' ? callerOf(deps, c) : optionalCaller(deps.verifier, c.env.incoming.headers.authorization);
    const { bucketId, name } = objectPath(c);
    const operation = publicRoute ? 'storage.object.info_public' : mode === 'info' ? 'object.get_authenticated_info' : 'object.head_authenticated_info';
    const bucket = await deps.db.asAdmin(operation, (sql) => findBucket(sql, bucketId));
    if (!bucket || (!publicRoute && !caller.authenticated && !bucket.public) || (publicRoute && !bucket.public)) throw ERRORS.noSuchBucket();
    const object = bucket.public || publicRoute
      ? await findObjectAsAdmin(deps, operation, bucketId, name)
      : await findObjectAs(deps, c, caller, operation, bucketId, name);
    return mode === 'info' ? c.json(infoOf(object)) : renderObject(deps, c, object);
  };

  app.get(`/object/info/public/:bucket/${NAME}`, describe('info', true, 'optional'));
  app.get(`/object/info/authenticated/:bucket/${NAME}`, describe('info', false, 'required'));
  app.get(`/object/info/:bucket/${NAME}`, describe('info', false, 'optional'));

  // Hono serves HEAD with the GET route; the raw method tells them apart.
  for (const prefix of ['/object/authenticated', '/object']) {
    const head = describe('head', false, prefix === '/object' ? 'optional' : 'required');
    app.get(`${prefix}/:bucket/${NAME}`, async (c) => {
      if (c.req.method === 'HEAD') return head(c);
      const caller = callerOf(deps, c);
      const { bucketId, name } = objectPath(c);
      return renderObject(deps, c, await findObjectAs(deps, c, caller, 'storage.object.get_authenticated', bucketId, name));
    });
  }

  app.post(`/object/:bucket/${NAME}`, (c) => upload(deps, c, c.req.header('x-upsert') === 'true', 'storage.object.upload'));
  app.put(`/object/:bucket/${NAME}`, (c) => upload(deps, c, true, 'storage.object.upload_update'));

  app.delete(`/object/:bucket/${NAME}`, async (c) => {
    const caller = callerOf(deps, c);
    const { bucketId, name } = objectPath(c);
    const removed = await deps.db.asCaller(scopeOf(c, caller, 'storage.object.delete'), (sql) => sql<{ version: string | null }[]>`
      delete from storage.objects where bucket_id = ${bucketId} and name = ${name} returning version`);
    if (removed.length === 0) throw ERRORS.noSuchKey();
    await deps.files.remove(removed.map((row) => row.version));
    return c.json({ message: 'Successfully deleted' });
  });

  app.delete('/object/:bucket', async (c) => {
    const caller = callerOf(deps, c);
    const bucketId = c.req.param('bucket');
    const body = await readJson(c);
    const prefixes = body.prefixes;
    if (!Array.isArray(prefixes) || prefixes.some((prefix) => typeof prefix !== 'string')) {
      throw ERRORS.invalidRequest("body must have required property 'prefixes'");
    }
    if (prefixes.length < 1 || prefixes.length > MAX_OBJECTS_PER_REQUEST) {
      throw ERRORS.invalidRequest(`body/prefixes must have between 1 and ${MAX_OBJECTS_PER_REQUEST} items`);
    }
    const removed = await deps.db.asCaller(scopeOf(c, caller, 'storage.object.delete_many'), (sql) => sql<ObjectRow[]>`
      delete from storage.objects where bucket_id = ${bucketId} and name = any(${prefixes as string[]})
      returning ${sql.unsafe(OBJECT_COLUMNS)}`);
    await deps.files.remove(removed.map((row) => row.version));
    return c.json(removed.map((row) => ({ ...row, owner: undefined })));
  });
}
