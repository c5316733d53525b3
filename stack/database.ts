/** Brings a fresh or existing database to the shape hosted Supabase has, then applies our migrations. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';

const run = promisify(execFile);

/** The platform bootstrap files, in the order they run: roles and schemas first, then what uses them. */
export const BOOTSTRAP_FILES = ['platform.sql', 'auth.sql', 'realtime.sql', 'storage.sql'];

/** The platform bootstrap (sql/bootstrap/*.sql, see BOOTSTRAP_FILES), idempotent, plus the login passwords. */
export async function bootstrapPlatform(superuserUrl: string, projectRoot: string, password: string) {
  const sql = postgres(superuserUrl, { max: 1, onnotice: () => {} });
  try {
    for (const file of BOOTSTRAP_FILES) {
      await sql.unsafe(readFileSync(path.join(projectRoot, 'sql', 'bootstrap', file), 'utf8'));
    }
    // Local Supabase gives every login role the database password; so do we.
    for (const role of ['authenticator', 'supabase_admin', 'supabase_auth_admin', 'supabase_storage_admin']) {
      await sql.unsafe(`alter role ${role} with password ${quoteLiteral(password)}`);
    }
  } finally {
    await sql.end({ timeout: 2 });
  }
}

function quoteLiteral(value: string) {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Applies pending migrations with the real Supabase CLI, so the history lands in
 * supabase_migrations.schema_migrations exactly as `supabase db push` keeps it on hosted Supabase.
 */
export async function applyMigrations(superuserUrl: string, projectRoot: string,
  /** A folder with its own supabase/ (config.toml, migrations/), e.g. a subset of ours for upgrade tests. */
  workdir = projectRoot): Promise<string> {
  const cli = path.join(projectRoot, 'node_modules', '.bin', 'supabase');
  try {
    const { stdout, stderr } = await run(cli, [
      'migration', 'up', '--include-all', '--db-url', `${superuserUrl}?sslmode=disable`, '--workdir', workdir,
    ], { cwd: workdir, env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' }, timeout: 120_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`supabase migration up failed:\n${stdout}${stderr}`);
  }
}

/** config.toml `[haex] vault_quota_bytes` as the database's default vault quota (issue 26), at every start. */
export async function applyVaultQuota(superuserUrl: string, quotaBytes: number | undefined): Promise<void> {
  const sql = postgres(superuserUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`select public.set_default_vault_quota(${quotaBytes ?? null}::bigint)`;
  } finally {
    await sql.end();
  }
}
