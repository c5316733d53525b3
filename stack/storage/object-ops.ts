/**
 * Object routes of the embedded Storage that work on metadata (supabase/storage
 * src/http/routes/object/): move, copy, list (v1) and signed URLs.
 *
 *   POST /object/move   {bucketId, sourceKey, destinationKey, destinationBucket?} -> {message}
 *        an UPDATE of the row as the caller (RLS: select + update); the bytes stay where they are
 *   POST /object/copy   {bucketId, sourceKey, destinationKey, destinationBucket?, copyMetadata?, metadata?}
 *        (x-upsert) -> {Id, Key}; read as the caller, written as the caller (select + insert)
 *   POST /object/list/:bucket  {prefix, limit?, offset?, sortBy?, search?} -> [entry]
 *        Storage's storage.search: the entries one level below `prefix` (+ `search`, a
 *        case-insensitive literal prefix of the entry name), names relative to `prefix`, folders as
 *        entries with id null; sorted by name (folders and files together) or, by another
 *        column, folders first; RLS SELECT decides what is seen
 *   POST /object/sign/:bucket/*   {expiresIn} -> {signedURL}   (the caller must see the object)
 *   POST /object/sign/:bucket     {expiresIn, paths} -> [{error, path, signedURL}]
 *   GET  /object/sign/:bucket/*?token=   download with a download-scoped token, no auth
 *   POST /object/upload/sign/:bucket/*   (x-upsert) -> {url, token}: checks the caller may write now
 *   PUT  /object/upload/sign/:bucket/*?token=   upload with an upload-scoped token, no auth
 */
import { randomUUID } from 'node:crypto';
import type { Hono } from 'hono';
import { signUrlToken, verifySignedToken } from './auth.ts';
import { findBucket } from './buckets.ts';
import {
  callerOf, isUuid, mustBeValidKey, optionalInteger, optionalString, readJson, requiredString, scopeOf,
  type StorageDeps, type StorageEnv,
} from './context.ts';
import { OBJECT_COLUMNS, renderObject, type ObjectRow } from './download.ts';
import { ERRORS } from './errors.ts';
import { findObjectAs, findObjectAsAdmin, MAX_OBJECTS_PER_REQUEST, objectPath } from './objects.ts';
import { canUpload, completeUpload, maxFileSizeOf, uploadBodyOf } from './upload.ts';

const LIST_MAX = 1500;
const LIST_SORT_COLUMNS = new Set(['name', 'updated_at', 'created_at', 'last_accessed_at']);

function expiresInOf(body: Record<string, unknown>): number {
  const value = body.expiresIn;
  if (value === undefined) throw ERRORS.invalidRequest("body must have required property 'expiresIn'");
  const seconds = optionalInteger(value, 'expiresIn', 1, 10 * 365 * 24 * 3600);
  if (seconds === undefined) throw ERRORS.invalidRequest("body must have required property 'expiresIn'");
  return seconds;
}

export function objectOpsRoutes(app: Hono<StorageEnv>, deps: StorageDeps) {
  const NAME = ':name{.+}';

  app.post('/object/move', async (c) => {
    const caller = callerOf(deps, c);
    const body = await readJson(c);
    const bucketId = requiredString(body, 'bucketId');
    const sourceKey = requiredString(body, 'sourceKey');
    const destinationKey = requiredString(body, 'destinationKey');
    const destinationBucket = optionalString(body, 'destinationBucket') ?? bucketId;
    mustBeValidKey(destinationKey);
    // A missing destination bucket fails the row's foreign key: NoSuchBucket (errors.ts).
    await deps.db.asCaller(scopeOf(c, caller, 'storage.object.move'), async (sql) => {
      const moved = await sql`update storage.objects
        set bucket_id = ${destinationBucket}, name = ${destinationKey}, last_accessed_at = now(),
          owner = ${isUuid(caller.sub) ? caller.sub : null}, owner_id = ${caller.sub ?? null}
        where bucket_id = ${bucketId} and name = ${sourceKey} returning id`;
      if (moved.length === 0) throw ERRORS.noSuchKey();
    });
    return c.json({ message: 'Successfully moved' });
  });

  app.post('/object/copy', async (c) => {
    const caller = callerOf(deps, c);
    const body = await readJson(c);
    const bucketId = requiredString(body, 'bucketId');
    const sourceKey = requiredString(body, 'sourceKey');
    const destinationKey = requiredString(body, 'destinationKey');
    const destinationBucket = optionalString(body, 'destinationBucket') ?? bucketId;
    mustBeValidKey(destinationKey);
    const upsert = c.req.header('x-upsert') === 'true';
    const copyMetadata = body.copyMetadata !== false;
    const source = await findObjectAs(deps, c, caller, 'storage.object.copy', bucketId, sourceKey);
    if (!source.version) throw ERRORS.noSuchKey();
    const bucket = await deps.db.asAdmin('storage.object.copy', (sql) => findBucket(sql, destinationBucket));
    if (!bucket) throw ERRORS.noSuchBucket();
    const metadata = source.metadata ?? {};
    const mimeType = metadata.mimetype ?? 'application/octet-stream';
    const userMetadata = copyMetadata ? source.user_metadata ?? undefined
      : (typeof body.metadata === 'object' && body.metadata !== null ? body.metadata as Record<string, unknown> : undefined);
    const scope = scopeOf(c, caller, 'storage.object.copy');
    const target = { bucketId: destinationBucket, name: destinationKey, upsert, ...(caller.sub ? { owner: caller.sub } : {}) };
    await canUpload(deps, scope, target, { mimetype: mimeType, contentLength: metadata.size ?? 0 }, userMetadata);
    const staging = randomUUID();
    await deps.files.copy(source.version, staging);
    const { id } = await completeUpload(deps, scope, target, deps.files.pathOf(staging), {
      size: metadata.size ?? 0, eTag: metadata.eTag ?? '""', mimeType, cacheControl: metadata.cacheControl ?? 'no-cache',
    }, userMetadata);
    return c.json({ Id: id, Key: `${destinationBucket}/${destinationKey}` });
  });

  app.post('/object/list/:bucket', async (c) => {
    const caller = callerOf(deps, c);
    const bucketId = c.req.param('bucket');
    const body = await readJson(c);
    let prefix = body.prefix === undefined ? undefined : optionalString(body, 'prefix');
    if (prefix === undefined) throw ERRORS.invalidRequest("body must have required property 'prefix'");
    if (prefix.length > 0 && !prefix.endsWith('/')) prefix = `${prefix}/`;
    const search = optionalString(body, 'search') ?? '';
    const limit = Math.min(optionalInteger(body.limit, 'limit', 1) ?? 100, LIST_MAX);
    const offset = optionalInteger(body.offset, 'offset', 0) ?? 0;
    const sortBy = (body.sortBy ?? {}) as { column?: unknown; order?: unknown };
    const column = typeof sortBy.column === 'string' && LIST_SORT_COLUMNS.has(sortBy.column) ? sortBy.column : 'name';
    const descending = typeof sortBy.order === 'string' && sortBy.order.toLowerCase() === 'desc';
    const full = prefix + search;
    const prefixStart = Math.max(1, prefix === '' ? 1 : prefix.split('/').length);
    const levels = Math.max(1, full === '' ? 1 : full.split('/').length);
    const rows = await deps.db.asCaller(scopeOf(c, caller, 'storage.object.list'), (sql) => {
      const order = descending ? sql`desc` : sql`asc`;
      return sql`
        with matched as (
          select o.id, o.path_tokens, o.updated_at, o.created_at, o.last_accessed_at, o.metadata,
                 array_length(o.path_tokens, 1) as depth
          from storage.objects o
          where o.bucket_id = ${bucketId} and left(lower(o.name), ${full.length}) = lower(${full})
        ), entries as (
          select array_to_string(path_tokens[${prefixStart}:${levels}], '/') as name, null::uuid as id,
                 null::timestamptz as updated_at, null::timestamptz as created_at,
                 null::timestamptz as last_accessed_at, null::jsonb as metadata, true as is_folder
          from matched where depth > ${levels} group by 1
          union all
          select array_to_string(path_tokens[${prefixStart}:${levels}], '/'), id, updated_at, created_at,
                 last_accessed_at, metadata, false
          from matched where depth = ${levels}
        )
        select name, id, updated_at, created_at, last_accessed_at, metadata from entries
        order by ${column === 'name'
          ? sql`lower(name) collate "C" ${order}, name collate "C" ${order}`
          : sql`is_folder desc, case when is_folder then name end collate "C" ${order}, ${sql(column)} ${order}, name collate "C"`}
        limit ${limit} offset ${offset}`;
    });
    return c.json(rows);
  });

  // Signed URLs: registered before the generic /object/:bucket/* routes, which they would match too.
  app.post(`/object/sign/:bucket/${NAME}`, async (c) => {
    const caller = callerOf(deps, c);
    const { bucketId, name } = objectPath(c);
    const expiresIn = expiresInOf(await readJson(c));
    await findObjectAs(deps, c, caller, 'storage.object.sign', bucketId, name);
    const url = `${bucketId}/${name}`;
    const token = signUrlToken(deps.signer, { url, scope: 'download' }, expiresIn);
    return c.json({ signedURL: `/object/sign/${encodePath(url)}?token=${token}` });
  });

  app.post('/object/sign/:bucket', async (c) => {
    const caller = callerOf(deps, c);
    const bucketId = c.req.param('bucket');
    const body = await readJson(c);
    const expiresIn = expiresInOf(body);
    const paths = body.paths;
    if (!Array.isArray(paths) || paths.some((path) => typeof path !== 'string')) {
      throw ERRORS.invalidRequest("body must have required property 'paths'");
    }
    if (paths.length < 1 || paths.length > MAX_OBJECTS_PER_REQUEST) {
      throw ERRORS.invalidRequest(`body/paths must have between 1 and ${MAX_OBJECTS_PER_REQUEST} items`);
    }
    const visible = await deps.db.asCaller(scopeOf(c, caller, 'storage.object.sign_many'), (sql) => sql<{ name: string }[]>`
      select name from storage.objects where bucket_id = ${bucketId} and name = any(${paths as string[]})`);
    const names = new Set(visible.map((row) => row.name));
    return c.json((paths as string[]).map((path) => {
      if (!names.has(path)) return { error: 'Either the object does not exist or you do not have access to it', path, signedURL: null };
      const url = `${bucketId}/${path}`;
      const token = signUrlToken(deps.signer, { url, scope: 'download' }, expiresIn);
      return { error: null, path, signedURL: `/object/sign/${encodePath(url)}?token=${token}` };
    }));
  });

  app.get(`/object/sign/:bucket/${NAME}`, async (c) => {
    const { bucketId, name } = objectPath(c);
    const token = c.req.query('token');
    if (!token) throw ERRORS.invalidRequest("querystring must have required property 'token'");
    const payload = verifySignedToken(deps.verifier, token, bucketId, name, 'download');
    const object: ObjectRow = await findObjectAsAdmin(deps, 'storage.object.get_signed', bucketId, name);
    return renderObject(deps, c, object, { expires: new Date(payload.exp * 1000).toUTCString() });
  });

  app.post(`/object/upload/sign/:bucket/${NAME}`, async (c) => {
    const caller = callerOf(deps, c);
    const { bucketId, name } = objectPath(c);
    mustBeValidKey(name);
    await readJson(c);
    const upsert = c.req.header('x-upsert') === 'true';
    const bucket = await deps.db.asAdmin('storage.object.sign_upload_url', (sql) => findBucket(sql, bucketId));
    if (!bucket) throw ERRORS.noSuchBucket();
    const owner = caller.sub;
    await canUpload(deps, scopeOf(c, caller, 'storage.object.sign_upload_url'),
      { bucketId, name, upsert, ...(owner ? { owner } : {}) }, {});
    const url = `${bucketId}/${name}`;
    // Storage's default: valid for two hours.
    const token = signUrlToken(deps.signer, { url, scope: 'upload', upsert, ...(owner ? { owner } : {}) }, 2 * 3600);
    return c.json({ url: `/object/upload/sign/${encodePath(url)}?token=${token}`, token });
  });

  app.put(`/object/upload/sign/:bucket/${NAME}`, async (c) => {
    const { bucketId, name } = objectPath(c);
    const token = c.req.query('token');
    if (!token) throw ERRORS.invalidRequest("querystring must have required property 'token'");
    const payload = verifySignedToken(deps.verifier, token, bucketId, name, 'upload');
    const bucket = await deps.db.asAdmin('storage.object.upload_signed', (sql) => findBucket(sql, bucketId));
    if (!bucket) throw ERRORS.noSuchBucket();
    const maxBytes = maxFileSizeOf(deps, bucket);
    const body = await uploadBodyOf(c.env.incoming, bucket, maxBytes);
    // As Storage: the token's owner writes as the storage admin (RLS was checked when signing).
    const scope = {
      caller: { role: 'service_role', claims: { role: 'service_role' }, authenticated: false },
      operation: 'storage.object.upload_signed', method: c.req.method, path: new URL(c.req.url).pathname,
    };
    const stored = await deps.files.receive(body.stream, maxBytes);
    const { id } = await completeUpload(deps, scope, { bucketId, name, upsert: payload.upsert === true, ...(payload.owner ? { owner: payload.owner } : {}) },
      stored.tempPath, { size: stored.size, eTag: stored.eTag, mimeType: body.mimeType, cacheControl: body.cacheControl }, body.userMetadata);
    return c.json({ Key: `${bucketId}/${name}`, Id: id });
  });
}

/** A bucket/object path as a URL path: each segment percent-encoded. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export { OBJECT_COLUMNS };
