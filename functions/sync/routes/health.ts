/**
 * GET / : the health route, open without any credential (as the seed server's `GET /` was), for
 * uptime monitors. It reveals the service name, its version, `status: "ok"` and SYNC_ENV; it
 * touches no database and says nothing about users or vaults.
 *
 * `@supabase/server`'s `auth: 'none'` means "no check"; its middleware would still build two
 * supabase-js clients per request and import supabase-js at start (most of a cold start, see
 * bench/cold-start.ts), so this route has no auth middleware at all.
 */
import { config } from '../../_shared/config.ts';
import { jsonResponse } from '../../_shared/errors.ts';
import pkg from '../../../package.json' with { type: 'json' };
import type { SyncApp } from '../context.ts';

export function registerHealth(app: SyncApp) {
  app.get('/', () => jsonResponse({ name: 'haex-sync-server', version: pkg.version, status: 'ok', env: config.env }));
}
