/**
 * Generates client/src/database.types.ts from the migrations, never by hand:
 *
 *   npm run gen:types     starts a throwaway stack (Postgres + migrations), runs
 *                         @supabase/postgres-meta's TypeScript generator against it, writes the file
 *   npm run check:types   the same, but fails (exit 1) if the committed file differs
 *
 * With `--db-url <url>` an existing database is used instead of a throwaway stack.
 * The vitest drift test (client/test/database-types.test.ts) does the check against the test stack.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDatabaseTypes } from './pg-meta.ts';

export const TYPES_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'database.types.ts');

async function main() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const urlAt = args.indexOf('--db-url');
  let dbUrl = urlAt >= 0 ? args[urlAt + 1] : undefined;
  let dispose: (() => Promise<void>) | undefined;
  if (!dbUrl) {
    const { startThrowawayStack } = await import('../../tests/support/throwaway-stack.ts');
    const stack = await startThrowawayStack({ quiet: true });
    dbUrl = stack.info.DB_URL;
    dispose = stack.dispose;
  }
  try {
    const generated = await generateDatabaseTypes(dbUrl);
    if (check) {
      const committed = readFileSync(TYPES_FILE, 'utf8');
      if (committed !== generated) {
        console.error(`${path.relative(process.cwd(), TYPES_FILE)} is out of date: run npm run gen:types`);
        process.exitCode = 1;
      } else {
        console.log('database types are up to date');
      }
    } else {
      writeFileSync(TYPES_FILE, generated);
      console.log(`wrote ${path.relative(process.cwd(), TYPES_FILE)}`);
    }
  } finally {
    await dispose?.();
  }
}

await main();
