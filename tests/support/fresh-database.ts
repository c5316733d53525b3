/** A fresh database of the test cluster, bootstrapped as the stack does, and migrations applied to it by the real CLI. */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { PROJECT_ROOT } from '../../stack/config.ts';
import { applyMigrations, bootstrapPlatform } from '../../stack/database.ts';
import { adminSql, stack } from './stack.ts';

const MIGRATIONS = path.join(PROJECT_ROOT, 'supabase', 'migrations');

export async function freshDatabase(): Promise<{ url: string; sql: postgres.Sql; drop(): Promise<void> }> {
  const name = `fresh_${randomUUID().replaceAll('-', '')}`;
  await adminSql().unsafe(`create database ${name}`);
  const url = stack.DB_URL.replace(/\/postgres$/, `/${name}`);
  await bootstrapPlatform(url, PROJECT_ROOT, new URL(stack.DB_URL).password);
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  return {
    url, sql,
    async drop() {
      await sql.end({ timeout: 5 });
      await adminSql().unsafe(`drop database ${name} with (force)`);
    },
  };
}

/** Applies our migrations that sort before `stopBefore` (or all), plus `extra` files, through the CLI. */
export async function migrateUpTo(url: string, stopBefore?: string, extra: Record<string, string> = {}): Promise<string> {
  const workdir = mkdtempSync(path.join(tmpdir(), 'haex-migrations-'));
  try {
    mkdirSync(path.join(workdir, 'supabase', 'migrations'), { recursive: true });
    cpSync(path.join(PROJECT_ROOT, 'supabase', 'config.toml'), path.join(workdir, 'supabase', 'config.toml'));
    for (const file of readdirSync(MIGRATIONS).filter((f) => !stopBefore || f < stopBefore)) {
      cpSync(path.join(MIGRATIONS, file), path.join(workdir, 'supabase', 'migrations', file));
    }
    for (const [file, text] of Object.entries(extra)) writeFileSync(path.join(workdir, 'supabase', 'migrations', file), text);
    return await applyMigrations(url, PROJECT_ROOT, workdir);
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
}
