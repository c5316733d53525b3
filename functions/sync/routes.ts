/**
 * The sync function's Hono app: CORS first (preflights never need a token), then the route groups
 * of routes/*.ts, each registering its own paths with `requireUser` where a user is needed. Paths
 * are relative to the function: Supabase routes /functions/v1/sync/* here as /sync/*.
 *
 * Unknown paths are 404; a known path with another method is 405 with `Allow` (Hono alone would
 * answer 404). Errors thrown anywhere become the API's `{ "error": { "code", "message" } }`.
 * New route groups (devices, sharing) add a file in routes/ and one line below.
 */
import { Hono } from 'hono';
import { config } from '../_shared/config.ts';
import { corsMiddleware } from '../_shared/cors.ts';
import { HttpError, notFound, toResponse } from '../_shared/errors.ts';
import type { SyncEnv } from './context.ts';
import { registerDevices } from './routes/devices.ts';
import { registerHealth } from './routes/health.ts';
import { registerLogs } from './routes/logs.ts';
import { registerVaultKeys } from './routes/vault-keys.ts';
import { registerSharing } from './routes/sharing.ts';
import { registerVaults } from './routes/vaults.ts';

export const app = new Hono<SyncEnv>({ strict: false }).basePath('/sync');
app.use('*', corsMiddleware(config.corsOrigins));
for (const register of [registerHealth, registerVaultKeys, registerVaults, registerLogs, registerSharing, registerDevices]) register(app);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

app.notFound((c) => {
  const path = c.req.path;
  const allowed = METHODS.filter((method) =>
    method !== c.req.method && app.router.match(method, path)[0].some(([[, route]]) => route.method === method));
  if (allowed.length === 0) return toResponse(notFound(`no route ${path.replace(/^\/sync/, '') || '/'}`));
  const allow = [...allowed, 'OPTIONS'].join(', ');
  return toResponse(new HttpError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${path}; allowed: ${allow}`,
    undefined, { allow }));
});

app.onError((error) => toResponse(error));
