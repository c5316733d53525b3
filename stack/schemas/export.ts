/**
 * `npx tsx stack/schemas/export.ts`: (re)writes supabase/schemas from the database supabase/migrations
 * build. Done once when supabase/schemas was introduced; after that the files are edited by hand and
 * migrations generated from them (docs/schemas.md). Refuses to overwrite an existing directory.
 */
import { existsSync } from 'node:fs';
import { progress, SCHEMAS_DIR, withMigratedDatabase } from './session.ts';

if (existsSync(SCHEMAS_DIR)) {
  console.error(`${SCHEMAS_DIR} exists: the files there are the source of truth; remove it first to re-export`);
  process.exit(1);
}
await withMigratedDatabase(async (db, pgdelta) => {
  progress('exporting the migrated database to supabase/schemas ...');
  await pgdelta.exportSchema(db.url, SCHEMAS_DIR);
});
console.log(`exported to ${SCHEMAS_DIR}`);
