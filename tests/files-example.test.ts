/**
 * docs/files.md's app example, copied out of the doc (never retyped), run as an app runs it: the
 * packed client installed into an app outside the repository, plain node 20, against the test stack
 * and its Storage routes.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';
import { packAndInstall, type PackedApp } from './support/packed-client.ts';
import { stack } from './support/stack.ts';

const run = promisify(execFile);

function exampleFromDoc(): string {
  const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'files.md'), 'utf8');
  const match = /<!-- example: files\b[^\n]*-->\n```js\n([\s\S]*?)\n```/.exec(doc);
  if (!match) throw new Error('docs/files.md has no `<!-- example: files -->` js block');
  return match[1]!;
}

let app: PackedApp;
beforeAll(async () => {
  app = await packAndInstall();
  writeFileSync(path.join(app.dir, 'files.mjs'), exampleFromDoc());
}, 300_000);
afterAll(() => { if (app) rmSync(app.dir, { recursive: true, force: true }); });

it('runs docs/files.md\'s example outside the repository: the second device reads the file the first one stored and named', async () => {
  const { stdout, stderr } = await run(process.execPath, ['files.mjs'], {
    cwd: app.dir, timeout: 90_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, SUPABASE_URL: stack.API_URL, SUPABASE_PUBLISHABLE_KEY: stack.PUBLISHABLE_KEY,
      EXAMPLE_EMAIL: `files-${randomUUID()}@test.haex.local` },
  });
  expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ files: 1, text: 'pretend these are the bytes of a photo' });
  expect(stderr).toContain('uploaded 38/38');
  expect(readFileSync(path.join(PROJECT_ROOT, 'docs', 'files.md'), 'utf8')).toContain('{"files":1,"text":"pretend these are the bytes of a photo"}');
});
