/**
 * `npm run db:diff -- <name>`: writes supabase/migrations/<timestamp>_<name>.sql, the migration that
 * takes the database built by supabase/migrations to the state supabase/schemas declares. Runs on a
 * throwaway PostgreSQL (no stack, no Docker).
 *
 * The plan is applied to the throwaway database and planned again until nothing is left
 * (stack/schemas/generate.ts says why: the revokes from anon of a new object come in round two).
 *
 * The file gets the header every migration here has (lock_timeout set and reset, see
 * docs/migrations.md) and is linted with squawk; review it, say why in its first lines, then run
 * `npm run db:check`.
 */
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../config.ts';
import { generateMigration } from '../schemas/generate.ts';
import { migrationFileText, nextTimestamps } from '../schemas/migration-file.ts';
import { MIGRATIONS_DIR, progress, SCHEMAS_DIR, withMigratedDatabase } from '../schemas/session.ts';

const NAME = /^[a-z0-9][a-z0-9_]*$/;

const name = process.argv[2];
if (!name || process.argv.length > 3 || !NAME.test(name)) {
  console.error('usage: npm run db:diff -- <name>   (name: lower case, digits and underscores, e.g. add_vault_quota)');
  process.exit(2);
}

async function squawk(files: string[]) {
  const bin = path.join(PROJECT_ROOT, 'node_modules', '@squawk-cli', 'linux-x64', 'bin', 'squawk');
  if (!existsSync(bin)) return;
  const result = await promisify(execFile)(bin, ['--config', '.squawk.toml', ...files], { cwd: PROJECT_ROOT })
    .catch((error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? String(error), failed: true }));
  if ('failed' in result) {
    console.log(`squawk found problems (tests/migrations-lint.test.ts will fail on them):\n${result.stdout}`);
  } else {
    console.log('squawk: clean');
  }
}

try {
  const written = await withMigratedDatabase(async (db, pgdelta) => {
    const segments = await generateMigration(pgdelta, SCHEMAS_DIR, db.url, { log: progress });
    if (segments.length === 0) return [];
    const stamps = nextTimestamps(MIGRATIONS_DIR, segments.length);
    return segments.map((segment, i) => {
      const file = `${stamps[i]}_${name}${segments.length > 1 ? `_${i + 1}` : ''}.sql`;
      writeFileSync(path.join(MIGRATIONS_DIR, file), migrationFileText(file, name, segment));
      return path.join('supabase', 'migrations', file);
    });
  });
  if (written.length === 0) {
    console.log('db:diff: supabase/migrations already build supabase/schemas; nothing written');
  } else {
    for (const file of written) console.log(`db:diff: wrote ${file}`);
    await squawk(written);
    console.log('Review it (grants: no anon; locks on hot tables; any DROP), replace its "Why" placeholder'
      + ' (db:check fails until you do), then `npm run db:check`.');
  }
} catch (error) {
  console.error(`db:diff: ${(error as Error).message}`);
  process.exit(1);
}
