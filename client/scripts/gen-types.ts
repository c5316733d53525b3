/**
 * Generates client/src/database.types.ts and the limits files (client/src/limits.ts,
 * functions/_shared/limits.ts, see limits.ts) from the migrations, never by hand:
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
import { generateLimits, LIMITS_FILES } from './limits.ts';
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
    const limits = await generateLimits(dbUrl);
    const files: Array<[string, string]> = [[TYPES_FILE, await generateDatabaseTypes(dbUrl)],
      ...LIMITS_FILES.map((file): [string, string] => [file, limits])];
    for (const [file, generated] of files) {
      const name = path.relative(process.cwd(), file);
      if (check) {
        let committed = '';
        try { committed = readFileSync(file, 'utf8'); } catch { /* missing */ }
        if (committed !== generated) {
          console.error(`${name} is out of date: run npm run gen:types`);
          process.exitCode = 1;
        } else {
          console.log(`${name} is up to date`);
        }
      } else {
        writeFileSync(file, generated);
        console.log(`wrote ${name}`);
      }
    }
  } finally {
    await dispose?.();
  }
}

await main();
