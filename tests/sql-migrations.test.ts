/**
 * Upgrades of a database that already holds data: each test makes its own database in the test
 * cluster, applies the migrations up to a point with the real Supabase CLI, writes through the API
 * functions as a user would, applies the rest, and checks what a client reads afterwards.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';
import { applyMigrations, bootstrapPlatform } from '../stack/database.ts';
import { adminSql, stack } from './support/stack.ts';

const MIGRATIONS = path.join(PROJECT_ROOT, 'supabase', 'migrations');
const RENAME = '20261129000100_rename_vault_logs_to_sync_logs.sql';

/** A fresh database of the test cluster, bootstrapped as the stack does, and its superuser URL. */
async function freshDatabase(): Promise<{ url: string; sql: postgres.Sql; drop(): Promise<void> }> {
  const name = `upgrade_${randomUUID().replaceAll('-', '')}`;
  await adminSql().unsafe(`create database ${name}`);
  const url = stack.DB_URL.replace(/\/postgres$/, `/${name}`);
  await bootstrapPlatform(url, PROJECT_ROOT, new URL(stack.DB_URL).password);
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  return {
    url, sql,
    async drop() {
      await sql.end({ timeout: 5 });
      await adminSql().unsafe(`drop database ${name} with (force)`);
    },
  };
}

/** Applies our migrations that sort before `stopBefore` (or all), through the CLI. */
async function migrateUpTo(url: string, stopBefore?: string) {
  const workdir = mkdtempSync(path.join(tmpdir(), 'haex-migrations-'));
  try {
    mkdirSync(path.join(workdir, 'supabase', 'migrations'), { recursive: true });
    cpSync(path.join(PROJECT_ROOT, 'supabase', 'config.toml'), path.join(workdir, 'supabase', 'config.toml'));
    for (const file of readdirSync(MIGRATIONS).filter((f) => !stopBefore || f < stopBefore)) {
      cpSync(path.join(MIGRATIONS, file), path.join(workdir, 'supabase', 'migrations', file));
    }
    await applyMigrations(url, PROJECT_ROOT, workdir);
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
}

/** As PostgREST runs a request of the user's session (the test's auth.sessions row has the user's id). */
async function asUserOn<T>(sql: postgres.Sql, userId: string, fn: (tx: postgres.TransactionSql) => Promise<T>) {
  return sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true),
      set_config('request.jwt.claims', ${JSON.stringify({ role: 'authenticated', sub: userId, session_id: userId })}, true)`;
    return fn(tx);
  }) as Promise<T>;
}

const b64 = (bytes: number) => randomBytes(bytes).toString('base64');
const keyFields = { encrypted_vault_key: b64(48), salt: b64(32), nonce: b64(12) };

describe('renaming vault_logs to sync_logs', () => {
  const dropped: Array<() => Promise<void>> = [];
  afterAll(async () => { for (const drop of dropped) await drop(); });

  it('keeps logs written before the rename, with their sequences, for pull_logs and the table read after it', async () => {
    const db = await freshDatabase();
    dropped.push(db.drop);
    await migrateUpTo(db.url, RENAME);
    expect((await db.sql`select to_regclass('public.vault_logs') is not null as present`)[0]!.present).toBe(true);

    const userId = randomUUID();
    await db.sql`insert into auth.users (id, aud, role, email) values (${userId}, 'authenticated', 'authenticated', ${`${userId}@test.haex.local`})`;
    // The user's Auth session, named by the claims of asUserOn (private.caller_id() checks it; issue 19).
    await db.sql`insert into auth.sessions (id, user_id, created_at) values (${userId}, ${userId}, now())`;
    const vaultId = randomUUID();
    const written = Array.from({ length: 5 }, (_, i) => ({
      id: randomUUID(), encrypted_data: b64(40), nonce: b64(12), haex_timestamp: `ts-${i}`, device_id: 'before',
    }));
    await asUserOn(db.sql, userId, async (tx) => {
      await tx`select from public.create_vault(${vaultId}, ${keyFields.encrypted_vault_key}, ${keyFields.salt}, ${keyFields.nonce})`;
      await tx`select public.push_logs(${vaultId}, ${tx.json(written.slice(0, 3))})`;
      await tx`select public.push_logs(${vaultId}, ${tx.json(written.slice(3))})`;
    });

    await migrateUpTo(db.url);

    const pulled = await asUserOn(db.sql, userId, (tx) =>
      tx`select l.id, l.sequence::int, l.encrypted_data, l.nonce, l.haex_timestamp, l.device_id
          from public.pull_logs(${vaultId}, 0, 100) p, unnest(p.logs) l`);
    expect(pulled.map((r) => ({ ...r }))).toEqual(written.map((w, i) => ({ ...w, sequence: i + 1 })));
    const [next] = await asUserOn(db.sql, userId, (tx) =>
      tx`select public.push_logs(${vaultId}, ${tx.json([{ ...written[0], id: randomUUID(), device_id: 'after' }])}) as r`);
    expect(next!.r.last_sequence).toBe(6);
    const direct = await asUserOn(db.sql, userId, (tx) => tx`select sequence::int from public.sync_logs where vault_id = ${vaultId} order by 1`);
    expect(direct.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('leaves no table, index, constraint, policy or function body with the old name', async () => {
    const [row] = await adminSql()`select
      (select array_agg(relname::text) from pg_class where relname like '%vault\\_logs%') as relations,
      (select array_agg(conname::text) from pg_constraint where conname like '%vault\\_logs%') as constraints,
      (select array_agg(polname::text) from pg_policy where polname ilike '%vault logs%') as policies,
      (select array_agg(p.oid::regprocedure::text) from pg_proc p
        where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace) and p.prosrc like '%vault\\_logs%') as functions,
      (select array_agg(d.description) from pg_description d where d.description like '%vault\\_logs%') as comments`;
    expect(row).toEqual({ relations: null, constraints: null, policies: null, functions: null, comments: null });
  });
});
