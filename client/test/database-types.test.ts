/**
 * Drift check: client/src/database.types.ts must be exactly what postgres-meta generates from the
 * migrations (applied to the test stack's database). Regenerate with `npm run gen:types`.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { stack } from '../../tests/support/stack.ts';
import { generateDatabaseTypes } from '../scripts/pg-meta.ts';

it('client/src/database.types.ts matches the migrations (else: run npm run gen:types)', async () => {
  const generated = await generateDatabaseTypes(stack.DB_URL);
  const committed = readFileSync(new URL('../src/database.types.ts', import.meta.url), 'utf8');
  expect(committed === generated, 'client/src/database.types.ts is out of date: run npm run gen:types').toBe(true);
});
