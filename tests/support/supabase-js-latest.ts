/**
 * The newest supabase-js 2.x, for the suites that run against both it and the pinned one
 * (tests/support/auth.ts). Since 2.110 supabase-js declares `engines.node >=22`, so as a dev
 * dependency it made every `npm ci` on Node 20 (which the project supports) print EBADENGINE
 * warnings for six packages. The test setup installs it instead, once, into node_modules/.cache (as
 * it fetches npm 10 and Node 22 for other tests); it runs on Node 20 with `ws` as its WebSocket.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../stack/config.ts';

/** The newest 2.x when this was pinned; raise it to follow supabase-js. */
export const SUPABASE_JS_LATEST = '2.119.1';

const CACHE = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'haex-sync');
/** The folder whose node_modules holds it (an npm project of its own). */
export const LATEST_DIR = path.join(CACHE, `supabase-js-${SUPABASE_JS_LATEST}`);
export const LATEST_ENTRY = path.join(LATEST_DIR, 'node_modules', '@supabase', 'supabase-js', 'dist', 'index.mjs');

/** Installs it unless present; safe when several test projects start at once (the last rename loses). */
export async function installLatestSupabaseJs(): Promise<void> {
  if (existsSync(LATEST_ENTRY)) return;
  mkdirSync(CACHE, { recursive: true });
  const staging = mkdtempSync(path.join(CACHE, 'supabase-js-staging-'));
  try {
    writeFileSync(path.join(staging, 'package.json'), JSON.stringify({ private: true, dependencies: { '@supabase/supabase-js': SUPABASE_JS_LATEST } }));
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
    await promisify(execFile)('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', '--engine-strict=false'],
      { cwd: staging, env, timeout: 180_000 });
    try { renameSync(staging, LATEST_DIR); } catch (error) { if (!existsSync(LATEST_ENTRY)) throw error; }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
