/**
 * `npm run db:check`: exits 1, naming the objects, when supabase/schemas and supabase/migrations
 * disagree, i.e. when the plan from the migrated database to the schema files is not empty, or when
 * an object is created in more than one schema file, or when a generated migration still lacks its
 * "Why" line (not reviewed yet). Runs on a
 * throwaway PostgreSQL (no stack, no Docker); part of `npm test`.
 */
import { duplicateDefinitions } from '../schemas/files.ts';
import { unreviewedMigrations } from '../schemas/migration-file.ts';
import { differences } from '../schemas/pgdelta.ts';
import { MIGRATIONS_DIR, progress, SCHEMAS_DIR, withMigratedDatabase } from '../schemas/session.ts';

const duplicates = duplicateDefinitions(SCHEMAS_DIR);
if (duplicates.length > 0) {
  console.error('db:check: objects created in more than one file of supabase/schemas (keep one definition each):');
  for (const line of duplicates) console.error(`  ${line}`);
  process.exit(1);
}

const unreviewed = unreviewedMigrations(MIGRATIONS_DIR);
if (unreviewed.length > 0) {
  console.error('db:check: generated migrations whose "-- Why:" line still waits for its author:');
  for (const file of unreviewed) console.error(`  supabase/migrations/${file}`);
  process.exit(1);
}

try {
  const exitCode = await withMigratedDatabase(async (db, pgdelta) => {
    progress('planning the migrated database -> supabase/schemas ...');
    const { plan } = await pgdelta.plan(SCHEMAS_DIR, db.url);
    if (plan.actions.length === 0) {
      console.log('db:check: supabase/schemas and supabase/migrations agree');
      return 0;
    }
    console.error(`db:check: supabase/schemas and supabase/migrations disagree on ${plan.actions.length} action(s):`);
    for (const line of differences(plan)) console.error(`  ${line}`);
    console.error('\nThe SQL the schema files ask for beyond the migrations:');
    for (const action of plan.actions) console.error(`  ${action.sql.trim().split('\n').join('\n    ')};`);
    console.error('\nChanged a schema file? Run `npm run db:diff -- <name>` and review the migration it writes.'
      + '\nWrote a migration by hand? Make the schema file say the same.');
    return 1;
  });
  process.exit(exitCode);
} catch (error) {
  console.error(`db:check: ${(error as Error).message}`);
  process.exit(2);
}
