/**
 * supabase/schemas (issue 27): what db:check and db:diff rest on, on fresh databases of the test
 * cluster migrated by the real CLI.
 * - An edited function file shows up as exactly that function (db:check names it), and an object
 *   created in two files is caught before pg-delta would take whichever loads last.
 * - Deny by default survives generated migrations: for a new function whose file grants it to
 *   authenticated only, pg-delta's plan alone leaves it executable by anon (the default privileges of
 *   schema public grant every new function to anon), and the catalog audit (sql-catalog-audit) catches
 *   that; the migration db:diff writes revokes it and passes the same audit.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';
import { generateMigration } from '../stack/schemas/generate.ts';
import { migrationFileText, unreviewedMigrations } from '../stack/schemas/migration-file.ts';
import { duplicateDefinitions } from '../stack/schemas/files.ts';
import { differences, PgDelta } from '../stack/schemas/pgdelta.ts';
import { ANON_EXECUTABLE, ourFunctions } from './support/catalog-audit.ts';
import { freshDatabase, migrateUpTo } from './support/fresh-database.ts';

const SCHEMAS = path.join(PROJECT_ROOT, 'supabase', 'schemas');
const NEW_FUNCTION = `create function public.schema_audit_probe() returns integer
  language sql stable set search_path = '' as $$ select 1 $$;

comment on function public.schema_audit_probe() is 'API: a probe of the deny-by-default audit.';

revoke all on function public.schema_audit_probe() from public;

grant execute on function public.schema_audit_probe() to authenticated;
`;

let pgdelta: PgDelta;
let workdir: string;
const cleanups: Array<() => Promise<void>> = [];

// Each test migrates fresh databases and runs pg-delta's planner (a shadow database per plan): slow on 2 cores.

/** supabase/schemas copied, changed by `edit`. */
function schemasWith(edit: (dir: string) => void): string {
  const dir = mkdtempSync(path.join(workdir, 'schemas-'));
  cpSync(SCHEMAS, dir, { recursive: true });
  edit(dir);
  return dir;
}

async function migratedDatabase(extra: Record<string, string> = {}) {
  const db = await freshDatabase();
  cleanups.push(db.drop);
  await migrateUpTo(db.url, undefined, extra);
  return db;
}

const anonExecutable = async (db: Awaited<ReturnType<typeof migratedDatabase>>) =>
  (await ourFunctions(db.sql)).filter((f) => f.anon_exec).map((f) => f.name);

beforeAll(() => {
  workdir = mkdtempSync(path.join(tmpdir(), 'haex-schemas-test-'));
  pgdelta = new PgDelta(PROJECT_ROOT);
});

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  pgdelta?.dispose();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

describe('supabase/schemas against the migrations', () => {
  it('the files and the migrations agree; an edited function file is named as exactly that change', async () => {
    const db = await migratedDatabase();
    expect((await pgdelta.plan(SCHEMAS, db.url)).plan.actions).toEqual([]);

    const edited = schemasWith((dir) => {
      const file = path.join(dir, 'schemas', 'private', 'functions', 'role_rank.sql');
      writeFileSync(file, readFileSync(file, 'utf8').replace("else 0 end", "else 0 end -- edited"));
    });
    const { plan } = await pgdelta.plan(edited, db.url);
    expect(differences(plan)).toEqual(['change function private.role_rank(text) (def)']);
  }, 180_000);
});

describe('one definition per object', () => {
  it('supabase/schemas creates each object once; a function copied into a second file is named with both files', () => {
    expect(duplicateDefinitions(SCHEMAS)).toEqual([]);
    const copied = schemasWith((dir) => cpSync(path.join(dir, 'schemas', 'public', 'functions', 'push_logs.sql'),
      path.join(dir, 'schemas', 'public', 'functions', 'push_logs_v2.sql')));
    expect(duplicateDefinitions(copied)).toEqual(
      ['function public.push_logs: schemas/public/functions/push_logs.sql, schemas/public/functions/push_logs_v2.sql']);
  });
});

describe('review of generated migrations', () => {
  it('a generated migration counts as unreviewed until its Why line is written; the landed ones are all reviewed', () => {
    expect(unreviewedMigrations(path.join(PROJECT_ROOT, 'supabase', 'migrations'))).toEqual([]);
    const dir = mkdtempSync(path.join(workdir, 'migrations-'));
    const text = migrationFileText('29991231000000_x.sql', 'x', { sql: 'select 1;', transactional: true });
    writeFileSync(path.join(dir, '29991231000000_x.sql'), text);
    expect(unreviewedMigrations(dir)).toEqual(['29991231000000_x.sql']);
    writeFileSync(path.join(dir, '29991231000000_x.sql'), text.replace(/^-- Why: .*$/m, '-- Why: a probe.'));
    expect(unreviewedMigrations(dir)).toEqual([]);
  });
});

describe('deny by default through generated migrations', () => {
  let withProbe: string;
  beforeAll(() => {
    withProbe = schemasWith((dir) => writeFileSync(path.join(dir, 'schemas', 'public', 'functions', 'schema_audit_probe.sql'), NEW_FUNCTION));
  });

  it('pg-delta\'s plan alone leaves a new function executable by anon, and the catalog audit names it', async () => {
    const db = await migratedDatabase();
    expect(await anonExecutable(db)).toEqual(ANON_EXECUTABLE);
    const [segment, ...rest] = await generateMigration(pgdelta, withProbe, db.url, { maxRounds: 1 });
    expect(rest).toEqual([]);
    expect(segment!.sql).not.toMatch(/from "anon"/i);
    // the same SQL as a migration of its own, applied by the CLI to another fresh database
    const migrated = await migratedDatabase({ '29991231000000_probe.sql': migrationFileText('29991231000000_probe.sql', 'probe', segment!) });
    expect(await anonExecutable(migrated)).toEqual([...ANON_EXECUTABLE, 'public.schema_audit_probe']);
  }, 180_000);

  it('the migration db:diff writes revokes it from anon, and the catalog audit passes', async () => {
    const db = await migratedDatabase();
    const segments = await generateMigration(pgdelta, withProbe, db.url);
    expect(segments).toHaveLength(1);
    expect(segments[0]!.sql).toMatch(/REVOKE ALL ON FUNCTION "public"\."schema_audit_probe"\(\) FROM "anon"/);
    const migrated = await migratedDatabase({ '29991231000000_probe.sql': migrationFileText('29991231000000_probe.sql', 'probe', segments[0]!) });
    expect(await anonExecutable(migrated)).toEqual(ANON_EXECUTABLE);
    expect((await pgdelta.plan(withProbe, migrated.url)).plan.actions).toEqual([]);
  }, 180_000);
});
