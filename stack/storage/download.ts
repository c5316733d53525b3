/**
 * Serving an object's bytes and headers, as Storage's asset and head renderers do
 * (src/storage/renderer/{asset,head,info}.ts): Content-Type, Content-Length, Cache-Control, ETag,
 * Last-Modified, `If-None-Match` -> 304, one `Range: bytes=a-b` -> 206 with Content-Range (416 when
 * unsatisfiable), `?download[=name]` -> Content-Disposition attachment. Bodies stream from disk.
 */
import { Readable } from 'node:stream';
import type { StorageContext, StorageDeps } from './context.ts';
import { StorageError } from './errors.ts';
import type { ObjectMetadata } from './upload.ts';

export interface ObjectRow {
  id: string;
  name: string;
  bucket_id: string;
  version: string | null;
  metadata: Partial<ObjectMetadata> | null;
  user_metadata: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
  last_accessed_at: Date;
}

export const OBJECT_COLUMNS = 'id, name, bucket_id, version, metadata, user_metadata, created_at, updated_at, last_accessed_at';

function baseHeaders(object: ObjectRow): Record<string, string> {
  const metadata = object.metadata ?? {};
  const headers: Record<string, string> = {
    'content-type': metadata.mimetype ?? 'application/octet-stream',
    'cache-control': metadata.cacheControl ?? 'no-cache',
    'accept-ranges': 'bytes',
  };
  if (metadata.eTag) headers.etag = metadata.eTag;
  headers['last-modified'] = metadata.lastModified ?? object.updated_at.toUTCString();
  return headers;
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export async function renderObject(deps: StorageDeps, c: StorageContext, object: ObjectRow, extra: Record<string, string> = {}) {
  const headers = { ...baseHeaders(object), ...extra };
  const size = object.metadata?.size ?? 0;
  const download = c.req.query('download');
  if (download !== undefined) {
    const filename = download || object.name.split('/').pop() || 'download';
    headers['content-disposition'] = `attachment; filename=${encodeURIComponent(filename)};`;
  }
  const ifNoneMatch = c.req.header('if-none-match');
  if (ifNoneMatch && headers.etag && ifNoneMatch.split(',').map((tag) => tag.trim()).includes(headers.etag)) {
    return new Response(null, { status: 304, headers });
  }
  const range = parseRange(c.req.header('range'), size);
  if (range === 'unsatisfiable') {
    const error = new StorageError(416, 'InvalidRange', 'InvalidRange', 'The requested range is not satisfiable', 416);
    return new Response(JSON.stringify(error), { status: 416, headers: { 'content-type': 'application/json', 'content-range': `bytes */${size}` } });
  }
  if (!object.version) throw new StorageError(404, 'NoSuchKey', 'not_found', 'Object not found');
  const stream = await deps.files.read(object.version, range);
  const body = c.req.method === 'HEAD' ? null : Readable.toWeb(stream) as ReadableStream<Uint8Array>;
  if (c.req.method === 'HEAD') stream.destroy();
  if (range) {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    headers['content-length'] = String(range.end - range.start + 1);
    return new Response(body, { status: 206, headers });
  }
  headers['content-length'] = String(size);
  return new Response(body, { status: 200, headers });
}

/** Storage's info renderer body. */
export function infoOf(object: ObjectRow) {
  const metadata = object.metadata ?? {};
  return {
    id: object.id,
    name: object.name,
    version: object.version,
    bucket_id: object.bucket_id,
    size: metadata.size ?? null,
    content_type: metadata.mimetype ?? null,
    cache_control: metadata.cacheControl ?? null,
    etag: metadata.eTag ?? null,
    metadata: object.user_metadata,
    last_modified: object.updated_at,
    created_at: object.created_at,
  };
}
