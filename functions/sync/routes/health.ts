/**
 * GET / : the health route, open without any credential (as the seed server's `GET /` was), for
 * uptime monitors. It reveals the service name, its version, `status: "ok"` and SYNC_ENV; it
 * touches no database and says nothing about users or vaults.
 */
import { withSupabase } from '@supabase/server/adapters/hono';
import { config } from '../../_shared/config.ts';
import { jsonResponse } from '../../_shared/errors.ts';
import pkg from '../../../package.json' with { type: 'json' };
import type { SyncApp } from '../context.ts';

export function registerHealth(app: SyncApp) {
  app.get('/', withSupabase({ auth: 'none' }), () =>
    jsonResponse({ name: 'haex-sync-server', version: pkg.version, status: 'ok', env: config.env }));
}
