/**
 * What every route group of the sync function shares: the Hono app type with the verified caller
 * in `c.var.caller`, the `requireUser` middleware (auth.ts), the database transport and the
 * request schemas. Route groups live in routes/*.ts, one file each; app.ts registers them.
 */
import { createMiddleware } from 'hono/factory';
import type { Hono } from 'hono';
import { authKeysFromEnv, type Caller, UserVerifier } from '../_shared/auth.ts';
import { config } from '../_shared/config.ts';
import { RestDb, type SyncDb } from '../_shared/db.ts';
import { DirectDb } from '../_shared/db-direct.ts';
import { HttpError } from '../_shared/errors.ts';
import { limitBody, readJson } from '../_shared/http.ts';
import { schemas } from './protocol.ts';

export type SyncEnv = { Variables: { caller: Caller } };
export type SyncApp = Hono<SyncEnv>;

/** The database transport, chosen once at start (SYNC_DB_TRANSPORT; docs/http-api.md). */
export const db: SyncDb = config.dbTransport === 'direct' ? new DirectDb(config) : new RestDb(config);
export const S = schemas(config);

const verifier = new UserVerifier(authKeysFromEnv());

/** Every user route: a verified signed-in user in `c.var.caller`, else 401 before any other work. */
export const requireUser = createMiddleware<SyncEnv>(async (c, next) => {
  c.set('caller', await verifier.authenticate(c.req.header('authorization') ?? null));
  await next();
});

/** Routes with a JSON body: the size cap (413) runs before the body is read. */
export const jsonBody = limitBody(config.maxBodyBytes);
export const body = (request: Request) => readJson(request);

export const one = <T>(rows: T[]): T => {
  if (!Array.isArray(rows) || rows.length !== 1) throw new HttpError(500, 'internal', 'unexpected database answer');
  return rows[0]!;
};
