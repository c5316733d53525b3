/**
 * Resumable uploads (TUS 1.0.0) at /storage/v1/upload/resumable, as Supabase Storage serves them
 * (src/http/routes/tus/{index,lifecycle}.ts) with @tus/server and @tus/file-store:
 *
 * - POST /upload/resumable with `Upload-Length` and `Upload-Metadata` `bucketName`, `objectName`,
 *   `contentType`, `cacheControl` (seconds), `metadata` (JSON) -> 201 + Location
 *   `<api>/storage/v1/upload/resumable/<base64url("<bucket>/<object>/<version>")>`; HEAD -> Upload-Offset;
 *   PATCH (application/offset+octet-stream) -> 204, a wrong Upload-Offset 409; DELETE -> 204;
 *   OPTIONS -> Tus-Version 1.0.0. The `x-upsert: true` header on the finishing request replaces an
 *   existing object.
 * - Authorization: a valid JWT on every request but OPTIONS; POST, PATCH and DELETE first probe the
 *   write under the caller's role (Storage's canUpload), so RLS refuses before bytes are stored and
 *   no one else can append to or drop an upload; HEAD needs the JWT only (the id is a random uuid). The signed variant, /upload/resumable/sign, takes an
 *   upload-scoped signed-URL token in `x-signature` instead (owner and upsert from the token).
 * - Limits: the bucket's file_size_limit (capped by the global one) through maxSize (413), its
 *   allowed_mime_types on create (415), both with TUS's status codes (Storage answers TUS errors
 *   with their real status, not 400).
 * - On the last byte the file is renamed under its version (files.ts) and the row written as the
 *   caller, as a simple upload completes.
 *
 * - Expiry, as Storage's TUS_URL_EXPIRY_MS: an upload unfinished an hour after its creation answers
 *   410 and its parts are removed by the hourly clean-up (index.ts); `Upload-Expires` says when.
 *
 * The datastore's upload id is the object version (a uuid), so no object name reaches a file name.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { FileStore as TusFileStore } from '@tus/file-store';
import { Server as TusServer, type ServerOptions } from '@tus/server';
import { type Caller, verifySignedToken } from './auth.ts';
import { findBucket } from './buckets.ts';
import { isUuid, mustBeAllowedMimeType, mustBeValidKey, type StorageDeps } from './context.ts';
import type { RequestScope } from './database.ts';
import { ERRORS, StorageError } from './errors.ts';
import { canUpload, completeUpload, maxFileSizeOf } from './upload.ts';

export const TUS_PATH = '/upload/resumable';
const PUBLIC_PREFIX = '/storage/v1';

interface TusRequestContext {
  /** The caller (for the signed variant: the token's owner, written as service_role). */
  caller: Caller;
  upsert: boolean;
  signed: boolean;
  signature?: string;
  /** Set by the naming function for generateUrl. */
  created?: { bucketName: string; objectName: string };
}

const contexts = new WeakMap<IncomingMessage, TusRequestContext>();

type SrvxRequest = Parameters<NonNullable<ServerOptions['onIncomingRequest']>>[0];

function contextOf(req: SrvxRequest): { node: IncomingMessage; context: TusRequestContext } {
  const node = (req as unknown as { runtime?: { node?: { req: IncomingMessage } } }).runtime?.node?.req;
  const context = node && contexts.get(node);
  if (!node || !context) throw ERRORS.internal('TUS request without its context');
  return { node, context };
}

/** A StorageError as @tus/server answers errors: its real status and its message. */
function tusError(error: unknown): unknown {
  if (error instanceof StorageError) return Object.assign(error, { status_code: error.status, body: error.message });
  return error;
}

function scopeFor(context: TusRequestContext, method: string, operation: string): RequestScope {
  return { caller: context.caller, operation, method, path: TUS_PATH };
}

/** Storage's TUS_URL_EXPIRY_MS default: an upload not finished within an hour of its creation expires. */
export const RESUMABLE_EXPIRY_MS = 3_600_000;

export function createTusService(deps: StorageDeps, expiryMs = RESUMABLE_EXPIRY_MS) {
  const datastore = new TusFileStore({ directory: deps.files.tusDir, expirationPeriodInMilliseconds: expiryMs });
  const location = async (id: string) => {
    const upload = await datastore.getUpload(id);
    const bucketName = upload.metadata?.bucketName;
    const objectName = upload.metadata?.objectName;
    if (!bucketName || !objectName) throw ERRORS.noSuchUpload();
    return { upload, bucketName, objectName };
  };

  const server = new TusServer({
    path: TUS_PATH,
    datastore,
    disableTerminationForFinishedUploads: true,
    allowedHeaders: ['Authorization', 'X-Upsert', 'Upload-Expires', 'ApiKey', 'x-signature'],

    namingFunction: (req, metadata) => {
      const { context } = contextOf(req);
      const bucketName = metadata?.bucketName;
      const objectName = metadata?.objectName;
      if (!bucketName || !objectName) throw tusError(ERRORS.invalidRequest('Upload-Metadata must name bucketName and objectName'));
      try {
        mustBeValidKey(objectName);
      } catch (error) {
        throw tusError(error);
      }
      context.created = { bucketName, objectName };
      return randomUUID();
    },

    generateUrl: (req, { proto, host, id }) => {
      const { context } = contextOf(req);
      const { bucketName, objectName } = context.created!;
      const encoded = Buffer.from(`${bucketName}/${objectName}/${id}`, 'utf8').toString('base64url');
      const base = `${PUBLIC_PREFIX}${TUS_PATH}${context.signed ? '/sign' : ''}`;
      return `${proto}://${host}${base}/${encoded}`;
    },

    getFileIdFromRequest: (_req, lastPath) => {
      if (!lastPath || lastPath === 'resumable' || lastPath === 'sign') return undefined;
      const decoded = Buffer.from(lastPath, 'base64url').toString('utf8');
      const version = decoded.slice(decoded.lastIndexOf('/') + 1);
      return isUuid(version) ? version : undefined;
    },

    maxSize: async (req, id) => {
      if (!id) return deps.fileSizeLimit;
      const { context } = contextOf(req);
      const bucketName = context.created?.bucketName ?? (await location(id).catch(() => undefined))?.bucketName;
      if (!bucketName) return deps.fileSizeLimit;
      const bucket = await deps.db.asAdmin('storage.upload.resumable', (sql) => findBucket(sql, bucketName));
      return bucket ? maxFileSizeOf(deps, bucket) : deps.fileSizeLimit;
    },

    onIncomingRequest: async (req, id) => {
      const { context } = contextOf(req);
      try {
        if (req.method === 'OPTIONS') return;
        let bucketName: string;
        let objectName: string;
        let contentType: string | undefined;
        let contentLength: number | undefined;
        if (req.method === 'POST') {
          ({ bucketName, objectName } = context.created!);
          const length = req.headers.get('upload-length');
          contentLength = length ? Number(length) : undefined;
        } else {
          const found = await location(id).catch(() => { throw ERRORS.noSuchUpload(); });
          ({ bucketName, objectName } = found);
          contentType = found.upload.metadata?.contentType ?? undefined;
          contentLength = found.upload.size;
        }
        if (context.signed) {
          if (!context.signature) throw ERRORS.invalidSignature('Missing x-signature header');
          const payload = verifySignedToken(deps.verifier, context.signature, bucketName, objectName, 'upload');
          context.upsert = payload.upsert === true;
          context.caller = { role: 'service_role', claims: { role: 'service_role' }, authenticated: false,
            ...(payload.owner ? { sub: payload.owner } : {}) };
          return;
        }
        // HEAD needs a valid JWT only (the id is an unguessable uuid); POST, PATCH and DELETE probe the write.
        if (req.method === 'HEAD') return;
        await canUpload(deps, scopeFor(context, req.method, 'storage.upload.resumable'), {
          bucketId: bucketName, name: objectName, upsert: context.upsert,
          ...(context.caller.sub ? { owner: context.caller.sub } : {}),
        }, { ...(contentType ? { mimetype: contentType } : {}), ...(contentLength !== undefined ? { contentLength } : {}) });
      } catch (error) {
        throw tusError(error);
      }
    },

    onUploadCreate: async (_req, upload) => {
      try {
        const metadata = { ...(upload.metadata ?? {}) };
        const bucket = await deps.db.asAdmin('storage.upload.resumable', (sql) => findBucket(sql, metadata.bucketName ?? ''));
        if (!bucket) throw ERRORS.noSuchBucket();
        metadata.cacheControl = /^-?\d+$/.test(metadata.cacheControl ?? '') ? `max-age=${metadata.cacheControl}` : 'no-cache';
        if (metadata.contentType) mustBeAllowedMimeType(metadata.contentType, bucket.allowed_mime_types);
        return { metadata };
      } catch (error) {
        throw tusError(error);
      }
    },

    onUploadFinish: async (req, upload) => {
      const { context } = contextOf(req);
      try {
        const metadata = upload.metadata ?? {};
        const file = path.join(deps.files.tusDir, upload.id);
        const { size, eTag } = await deps.files.digest(file);
        let userMetadata: Record<string, unknown> | undefined;
        try {
          userMetadata = metadata.metadata ? JSON.parse(metadata.metadata) : undefined;
        } catch { /* Storage ignores unparseable user metadata */ }
        await completeUpload(deps, scopeFor(context, req.method, 'storage.upload.resumable'), {
          bucketId: metadata.bucketName!, name: metadata.objectName!, upsert: context.upsert,
          ...(context.caller.sub ? { owner: context.caller.sub } : {}),
        }, file, {
          size, eTag, mimeType: metadata.contentType || 'application/octet-stream', cacheControl: metadata.cacheControl || 'no-cache',
        }, userMetadata, upload.id);
        await rm(`${file}.json`, { force: true });
        return { headers: { 'Tus-Complete': '1' } };
      } catch (error) {
        // Its bytes are gone (completeUpload removed them): so goes the upload.
        await rm(path.join(deps.files.tusDir, `${upload.id}.json`), { force: true });
        throw tusError(error);
      }
    },

    onResponseError: (_req, error) => {
      if (error instanceof StorageError) return { status_code: error.status, body: error.message };
      return undefined;
    },
  });

  return {
    /** Removes expired unfinished uploads (their parts and metadata); resolves with how many. */
    cleanUp: () => server.cleanUpExpiredUploads(),
    /** Handles one TUS request; `subpath` is below /storage/v1. */
    async handle(req: IncomingMessage, res: ServerResponse, caller: Caller, subpath: string) {
      const signed = subpath === `${TUS_PATH}/sign` || subpath.startsWith(`${TUS_PATH}/sign/`);
      const signature = req.headers['x-signature'];
      contexts.set(req, {
        caller, upsert: req.headers['x-upsert'] === 'true', signed,
        ...(typeof signature === 'string' ? { signature } : {}),
      });
      await server.handle(req, res);
    },
  };
}
