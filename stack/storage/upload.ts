/**
 * Writing objects, as Storage's Uploader does (src/storage/uploader.ts):
 *
 * 1. `canUpload`: the row the upload will write is inserted (or upserted) under the caller's role
 *    and rolled back, so RLS refuses before a byte is stored;
 * 2. the body streams to disk under a new version (files.ts), at most the bucket's
 *    file_size_limit (capped by the global `[storage] file_size_limit`), else 413 EntityTooLarge;
 * 3. `completeUpload`: the row is written as the storage admin, as Storage does (RLS decided in
 *    step 1); the replaced version's bytes go after commit.
 *
 * Request bodies: raw bytes (content-type = the object's type, `x-metadata` = base64 JSON user
 * metadata, `cache-control`) or multipart/form-data (fields `cacheControl`, `metadata`,
 * `contentType` before the file part, as storage-js sends them), both streamed.
 */
import { Busboy } from '@fastify/busboy';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type postgres from 'postgres';
import { randomUUID } from 'node:crypto';
import type { BucketRow } from './buckets.ts';
import { isUuid, mustBeAllowedMimeType, type StorageDeps } from './context.ts';
import type { RequestScope, Tx } from './database.ts';
import { ERRORS } from './errors.ts';

const MAX_USER_METADATA_BYTES = 1024 * 1024;

export interface UploadBody {
  stream: Readable;
  mimeType: string;
  cacheControl: string;
  userMetadata?: Record<string, unknown>;
  /** The request's Content-Length when the client sent one. */
  declaredLength?: number;
}

export interface ObjectMetadata {
  eTag: string;
  size: number;
  mimetype: string;
  cacheControl: string;
  lastModified: string;
  contentLength: number;
  httpStatusCode: number;
}

/** min(global limit, bucket limit): Storage's getStandardMaxFileSizeLimit. */
export const maxFileSizeOf = (deps: StorageDeps, bucket: BucketRow) =>
  bucket.file_size_limit ? Math.min(bucket.file_size_limit, deps.fileSizeLimit) : deps.fileSizeLimit;

function parseUserMetadata(raw: string, base64: boolean): Record<string, unknown> | undefined {
  if (Buffer.byteLength(raw) > MAX_USER_METADATA_BYTES) throw ERRORS.entityTooLarge('user_metadata');
  try {
    const value = JSON.parse(base64 ? Buffer.from(raw, 'base64').toString('utf8') : raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    if (base64) throw ERRORS.invalidParameter('x-metadata', 'Invalid x-metadata header: must be base64 encoded JSON');
    return undefined;
  }
}

/** The upload body of a request: raw bytes or the first file part of a multipart form. */
export async function uploadBodyOf(incoming: IncomingMessage, bucket: BucketRow, maxBytes: number): Promise<UploadBody> {
  const contentType = incoming.headers['content-type'];
  const lengthHeader = incoming.headers['content-length'];
  const declaredLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
  const declared = declaredLength !== undefined && Number.isFinite(declaredLength) ? { declaredLength } : {};
  // As Storage: the RLS probe's metadata.contentLength is the request's Content-Length (for a form,
  // boundaries included), so policies can bound sizes before any byte is stored.
  if (contentType?.startsWith('multipart/form-data')) return { ...await multipartBody(incoming, bucket), ...declared };
  const mimeType = contentType || 'application/octet-stream';
  mustBeAllowedMimeType(mimeType, bucket.allowed_mime_types);
  const metadataHeader = incoming.headers['x-metadata'];
  const userMetadata = typeof metadataHeader === 'string' ? parseUserMetadata(metadataHeader, true) : undefined;
  if (declaredLength !== undefined && declaredLength > maxBytes) throw ERRORS.entityTooLarge();
  const cacheControl = incoming.headers['cache-control'] ?? 'no-cache';
  return { stream: incoming, mimeType, cacheControl, ...(userMetadata ? { userMetadata } : {}), ...declared };
}

function multipartBody(incoming: IncomingMessage, bucket: BucketRow): Promise<UploadBody> {
  return new Promise((resolve, reject) => {
    let parser: InstanceType<typeof Busboy>;
    try {
      parser = new Busboy({ headers: incoming.headers as { 'content-type': string }, limits: { files: 1, fieldSize: MAX_USER_METADATA_BYTES } });
    } catch {
      reject(ERRORS.noContentProvided());
      return;
    }
    const fields: Record<string, string> = {};
    let settled = false;
    parser.on('field', (name: string, value: string) => { fields[name] = value; });
    parser.on('file', (_field: string, stream: Readable, _filename: string, _encoding: string, partType: string) => {
      if (settled) { stream.resume(); return; }
      settled = true;
      try {
        const mimeType = fields.contentType || partType || 'application/octet-stream';
        mustBeAllowedMimeType(mimeType, bucket.allowed_mime_types);
        const rawMetadata = fields.metadata ?? fields.userMetadata;
        const userMetadata = rawMetadata === undefined ? undefined : parseUserMetadata(rawMetadata, false);
        const cacheControl = fields.cacheControl ? `max-age=${fields.cacheControl}` : 'no-cache';
        resolve({ stream, mimeType, cacheControl, ...(userMetadata ? { userMetadata } : {}) });
      } catch (error) {
        stream.resume();
        reject(error);
      }
    });
    parser.on('error', (error: Error) => { if (!settled) { settled = true; reject(ERRORS.invalidRequest(error.message)); } });
    parser.on('finish', () => { if (!settled) { settled = true; reject(ERRORS.noContentProvided()); } });
    incoming.pipe(parser);
  });
}

export interface WriteTarget {
  bucketId: string;
  name: string;
  owner?: string;
  upsert: boolean;
}

/**
 * Storage's canUpload: the write under the caller's role, rolled back. As Storage does it: a plain
 * INSERT (no RETURNING, so INSERT policies alone decide; a taken name is 409 KeyAlreadyExists), or
 * for an upsert INSERT … ON CONFLICT DO UPDATE … RETURNING (INSERT, UPDATE and SELECT policies).
 */
export async function canUpload(deps: StorageDeps, scope: RequestScope, target: WriteTarget,
  metadata: { mimetype?: string; contentLength?: number }, userMetadata?: Record<string, unknown>) {
  await deps.db.probe(scope, async (sql) => {
    const row = rowOf(sql, target, randomUUID(), metadata, userMetadata);
    if (target.upsert) await upsertRow(sql, row);
    else await sql`insert into storage.objects ${sql(row)}`;
  });
}

function rowOf(sql: Tx, target: WriteTarget, version: string, metadata: object, userMetadata?: Record<string, unknown>) {
  const owner = target.owner;
  return {
    bucket_id: target.bucketId, name: target.name, version,
    owner: isUuid(owner) ? owner : null, owner_id: owner ?? null,
    metadata: sql.json(metadata as postgres.JSONValue), user_metadata: userMetadata ? sql.json(userMetadata as postgres.JSONValue) : null,
  };
}

const upsertRow = (sql: Tx, row: ReturnType<typeof rowOf>) => sql<{ id: string }[]>`
  insert into storage.objects ${sql(row)}
  on conflict (name, bucket_id) do update set
    metadata = excluded.metadata, user_metadata = excluded.user_metadata, version = excluded.version,
    owner = excluded.owner, owner_id = excluded.owner_id
  returning id`;

/**
 * Storage's completeUpload, once canUpload let the caller write: `tempPath` becomes `version`'s
 * bytes, then the row is written as the storage admin (as Storage does: RLS already decided). A name
 * taken since the probe is 409 for a non-upsert write (Storage would overwrite it). On failure the
 * new bytes go; on success the replaced version's.
 */
export async function completeUpload(deps: StorageDeps, scope: RequestScope, target: WriteTarget, tempPath: string,
  file: { size: number; eTag: string; mimeType: string; cacheControl: string }, userMetadata?: Record<string, unknown>,
  version: string = randomUUID()): Promise<{ id: string; version: string }> {
  await deps.files.commit(tempPath, version);
  const metadata: ObjectMetadata = {
    eTag: file.eTag, size: file.size, mimetype: file.mimeType, cacheControl: file.cacheControl,
    lastModified: new Date().toUTCString(), contentLength: file.size, httpStatusCode: 200,
  };
  let previous: string | null | undefined;
  let id: string;
  try {
    id = await deps.db.asAdmin(scope.operation, async (sql) => {
      const [current] = await sql<{ version: string | null }[]>`
        select version from storage.objects where bucket_id = ${target.bucketId} and name = ${target.name} for update`;
      if (current && !target.upsert) throw ERRORS.keyAlreadyExists();
      previous = current?.version;
      const [row] = await upsertRow(sql, rowOf(sql, target, version, metadata, userMetadata));
      return row!.id;
    });
  } catch (error) {
    await deps.files.remove([version]);
    throw error;
  }
  if (previous && previous !== version) await deps.files.remove([previous]);
  return { id, version };
}
