/**
 * The embedded Storage: Supabase Storage's HTTP API (supabase/storage) for `npm start`, served
 * in the stack's process behind the gateway at /storage/v1, so unmodified @supabase/storage-js
 * (supabase.storage) and TUS clients work against it.
 *
 * Metadata lives in storage.buckets / storage.objects (sql/bootstrap/storage.sql), queried as the
 * caller's role with the JWT's claims (database.ts), so RLS policies decide as on hosted Supabase;
 * bytes live under `<dataDir>/storage` (files.ts). Routes: buckets.ts, objects.ts, object-ops.ts,
 * list-v2.ts, tus.ts; errors in Storage's shape (errors.ts). CORS preflights are answered here, as the CLI's
 * Kong does in front of Storage.
 *
 * Not served (hosted Storage has them): image transformations (/render), the S3 protocol, analytics
 * and vector buckets, /cdn purges.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { CORS, preflightHeaders } from '../cors.ts';
import type { BucketConfig } from '../config.ts';
import type { JwtVerifier, TokenSigner } from '../jwt.ts';
import { optionalCaller, requireCaller } from './auth.ts';
import { bucketRoutes } from './buckets.ts';
import type { StorageDeps, StorageEnv } from './context.ts';
import { StorageDatabase } from './database.ts';
import { ERRORS, StorageError } from './errors.ts';
import { FileStore } from './files.ts';
import { listV2Routes } from './list-v2.ts';
import { objectOpsRoutes } from './object-ops.ts';
import { objectRoutes } from './objects.ts';
import { createTusService, TUS_PATH } from './tus.ts';

export interface StorageServiceOptions {
  /** A login of supabase_storage_admin. */
  dbUrl: string;
  dataDir: string;
  verifier: JwtVerifier;
  signer: TokenSigner;
  /** `[storage] file_size_limit` in bytes. */
  fileSizeLimit: number;
  /** `[storage.buckets.*]` of config.toml, created or updated by `seedBuckets`. */
  buckets?: BucketConfig[];
  /** How long an unfinished resumable upload lives (default: Storage's hour). */
  resumableExpiryMs?: number;
  log?: (line: string) => void;
}

export interface StorageService {
  /** Creates the configured buckets, or updates them to their configured settings, as `supabase start` seeds them. */
  seedBuckets(): Promise<void>;
  /** Removes expired unfinished resumable uploads (also run on start and hourly); resolves with how many. */
  cleanUpResumable(): Promise<number>;
  /** Serves a request whose path had /storage/v1 removed (`subpath`); `authorization` as the gateway maps it. */
  handle(req: IncomingMessage, res: ServerResponse, subpath: string, search: string, authorization: string | undefined): void;
  close(): Promise<void>;
}

export function createStorageService(options: StorageServiceOptions): StorageService {
  const db = new StorageDatabase(options.dbUrl);
  const files = new FileStore(path.join(options.dataDir, 'storage'));
  const deps: StorageDeps = { db, files, verifier: options.verifier, signer: options.signer, fileSizeLimit: options.fileSizeLimit };
  const tus = createTusService(deps, options.resumableExpiryMs);
  const log = options.log ?? (() => {});
  const cleanUp = () => tus.cleanUp().catch((error: unknown) => { log(`storage: resumable clean-up: ${error}`); return 0; });
  void cleanUp();
  const cleanUpTimer = setInterval(() => void cleanUp(), 3_600_000);
  cleanUpTimer.unref();

  const app = new Hono<StorageEnv>();
  app.onError((error, c) => {
    if (error instanceof StorageError) return c.json(error.toJSON(), error.httpStatus as 400);
    log(`storage: ${c.req.method} ${new URL(c.req.url).pathname}: ${(error as Error).stack ?? error}`);
    return c.json(ERRORS.internal().toJSON(), 500);
  });
  app.notFound((c) => c.json(ERRORS.notFound(`Route ${c.req.method}:${new URL(c.req.url).pathname} not found`).toJSON(), 404));

  app.get('/status', (c) => c.text(''));
  app.get('/version', (c) => c.text('embedded'));

  app.all(`${TUS_PATH}/*`, (c) => serveTus(c.env.incoming, c.env.outgoing, new URL(c.req.url).pathname));
  app.all(TUS_PATH, (c) => serveTus(c.env.incoming, c.env.outgoing, new URL(c.req.url).pathname));
  async function serveTus(req: IncomingMessage, res: ServerResponse, subpath: string) {
    const signed = subpath.startsWith(`${TUS_PATH}/sign`);
    const caller = signed || req.method === 'OPTIONS'
      ? optionalCaller(deps.verifier, req.headers.authorization)
      : requireCaller(deps.verifier, req.headers.authorization);
    await tus.handle(req, res, caller, subpath);
    return RESPONSE_ALREADY_SENT;
  }

  bucketRoutes(app, deps);
  // The specific /object/<word>/… routes first: the generic /object/:bucket/* would match them too.
  objectOpsRoutes(app, deps);
  listV2Routes(app, deps);
  objectRoutes(app, deps);

  const listener = getRequestListener(app.fetch, { overrideGlobalObjects: false });

  return {
    handle(req, res, subpath, search, authorization) {
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
        res.writeHead(204, preflightHeaders(CORS.storage, req.headers));
        res.end();
        return;
      }
      if (authorization === undefined) delete req.headers.authorization;
      else req.headers.authorization = authorization;
      req.url = `${subpath || '/'}${search}`;
      const writeHead = res.writeHead;
      // Every answer carries CORS headers, as Kong adds them in front of Storage.
      res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
        for (const [name, value] of Object.entries(CORS.storage)) if (!this.hasHeader(name)) this.setHeader(name, value);
        return writeHead.apply(this, args);
      } as ServerResponse['writeHead'];
      listener(req, res).catch((error: unknown) => {
        log(`storage: ${(error as Error).stack ?? error}`);
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(ERRORS.internal()));
        } else res.destroy();
      });
    },
    async seedBuckets() {
      for (const bucket of options.buckets ?? []) {
        const limit = bucket.fileSizeLimit === null ? null : Math.min(bucket.fileSizeLimit, options.fileSizeLimit);
        await db.asAdmin('storage.bucket.create', (sql) => sql`
          insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
          values (${bucket.id}, ${bucket.id}, ${bucket.public}, ${limit}, ${bucket.allowedMimeTypes})
          on conflict (id) do update set public = excluded.public, file_size_limit = excluded.file_size_limit,
            allowed_mime_types = excluded.allowed_mime_types, updated_at = now()`);
      }
    },
    cleanUpResumable: cleanUp,
    async close() {
      clearInterval(cleanUpTimer);
      await db.close();
    },
  };
}
