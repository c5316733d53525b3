/**
 * One db:diff / db:check run: a throwaway PostgreSQL migrated from supabase/migrations, and pg-delta
 * next to it; both are torn down at the end, also on Ctrl-C.
 */
import path from 'node:path';
import { PROJECT_ROOT } from '../config.ts';
import { PgDelta } from './pgdelta.ts';
import { startThrowawayDatabase, type ThrowawayDatabase } from './throwaway.ts';

export const SCHEMAS_DIR = path.join(PROJECT_ROOT, 'supabase', 'schemas');
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'supabase', 'migrations');

export function progress(line: string) {
  process.stderr.write(`${line}\n`);
}

export async function withMigratedDatabase<T>(work: (db: ThrowawayDatabase, pgdelta: PgDelta) => Promise<T>): Promise<T> {
  const started = Date.now();
  progress('starting a throwaway PostgreSQL and applying supabase/migrations ...');
  const db = await startThrowawayDatabase(PROJECT_ROOT, progress);
  const pgdelta = new PgDelta(PROJECT_ROOT);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= db.stop().finally(() => pgdelta.dispose()));
  const onSignal = () => { void stop().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress(`migrated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return await work(db, pgdelta);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
    progress(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
