/**
 * Drift check: client/src/database.types.ts must be exactly what postgres-meta generates from the
 * migrations (applied to the test stack's database). Regenerate with `npm run gen:types`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { stack } from '../../tests/support/stack.ts';
import { generateLimits, LIMITS_FILES } from '../scripts/limits.ts';
import { generateDatabaseTypes } from '../scripts/pg-meta.ts';

it('client/src/database.types.ts matches the migrations (else: run npm run gen:types)', async () => {
  const generated = await generateDatabaseTypes(stack.DB_URL);
  const committed = readFileSync(new URL('../src/database.types.ts', import.meta.url), 'utf8');
  expect(committed === generated, 'client/src/database.types.ts is out of date: run npm run gen:types').toBe(true);
});

it.each(LIMITS_FILES.map((file) => [file.split('/').slice(-3).join('/'), file]))(
  '%s is private.limits() of the migrations (else: run npm run gen:types)', async (_name, file) => {
    const generated = await generateLimits(stack.DB_URL);
    expect(generated).toMatch(/maxPullBytes: \d+,/);
    expect(readFileSync(file, 'utf8') === generated, `${file} is out of date: run npm run gen:types`).toBe(true);
  });

it('client/src spells no limit, uuid or base64 pattern outside limits.ts and encoding.ts', () => {
  const dir = new URL('../src/', import.meta.url);
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')
    && !/^(limits|encoding|database\.types)\.ts$/.test(f));
  const patterns = [/\{8\}-\[?0-9/, /A-Za-z0-9\+\//, /524[_]?288|16 \* 1024 \* 1024|16_?777_?216|8_?388_?608/];
  const offending = files.flatMap((f) => {
    const text = readFileSync(new URL(f, dir), 'utf8');
    return patterns.filter((p) => p.test(text)).map((p) => `${f}: ${p}`);
  });
  expect(offending).toEqual([]);
});
