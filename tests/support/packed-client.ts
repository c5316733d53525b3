/**
 * The client as an app gets it: `npm pack ./client` (which builds it), then an app in a temporary
 * folder OUTSIDE the repository that installs the tarball next to supabase-js and ws, as the README's
 * "Use it in your app" says. The install is offline: the app's dependencies come from the npm cache
 * that the repository's `npm ci` filled, at the versions of our lockfile (copied into the app's own
 * lockfile), so the test needs no registry and never meets a version the registry lacks.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../stack/config.ts';

const run = promisify(execFile);

/**
 * The environment without what `npm test` exports to its scripts (`npm_config_local_prefix` and
 * friends): a nested npm would otherwise act on the repository instead of the app's folder.
 */
export const appEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key))),
  ...extra,
});

/** The dependencies the README tells an app to install beside the client. */
export const APP_DEPENDENCIES = ['@supabase/supabase-js', 'ws'] as const;

interface LockEntry { version: string; resolved?: string; integrity?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>; dev?: boolean; devOptional?: boolean; optional?: boolean; peer?: boolean }

/**
 * The app's package-lock.json packages: each dependency and everything it needs, as our lockfile
 * resolves them (same folder nesting rule as Node's: own node_modules first, then upward).
 */
function appLockPackages(names: readonly string[]): Record<string, LockEntry> {
  const lock = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const out: Record<string, LockEntry> = {};
  const todo: Array<[from: string, name: string, optional: boolean]> = names.map((name) => ['', name, false]);
  while (todo.length > 0) {
    const [from, name, optional] = todo.pop()!;
    let key: string | undefined;
    for (let base = from; ; ) {
      const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (lock.packages[candidate]) { key = candidate; break; }
      if (!base) break;
      const up = base.lastIndexOf('/node_modules/');
      base = up < 0 ? '' : base.slice(0, up);
    }
    if (!key) {
      if (optional) continue; // an optional dependency our lockfile does not install (e.g. ws' bufferutil)
      throw new Error(`package-lock.json has no ${name} (needed from ${from || 'the app'})`);
    }
    if (out[key]) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock.packages[key]!;
    out[key] = entry;
    for (const dep of Object.keys(entry.dependencies ?? {})) todo.push([key, dep, false]);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) todo.push([key, dep, true]);
  }
  return out;
}

export interface PackedApp {
  dir: string;
  tarball: string;
  /** The client package's own package.json, as packed. */
  manifest: { name: string; version: string; dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
}

export async function packAndInstall(): Promise<PackedApp> {
  const dir = mkdtempSync(path.join(tmpdir(), 'haex-sync-app-'));
  const { stdout } = await run('npm', ['pack', './client', '--pack-destination', dir, '--json'],
    { cwd: PROJECT_ROOT, timeout: 120_000, env: appEnv() });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; integrity: string; version: string }>;
  const tarball = path.join(dir, packed!.filename);
  const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'client', 'package.json'), 'utf8')) as PackedApp['manifest'];

  // What `npm install ./haex-sync-client-*.tgz @supabase/supabase-js ws` (the README's line) writes,
  // with our lockfile's versions; `npm ci --offline` then installs it from the cache alone (an
  // `npm install` would also ask the registry for supabase-js' metadata to check the peer range).
  const packages = appLockPackages(APP_DEPENDENCIES);
  const dependencies: Record<string, string> = {
    [manifest.name]: `file:${packed!.filename}`,
    ...Object.fromEntries(APP_DEPENDENCIES.map((name) => [name, packages[`node_modules/${name}`]!.version])),
  };
  packages[`node_modules/${manifest.name}`] = {
    version: packed!.version, resolved: `file:${packed!.filename}`, integrity: packed!.integrity,
    ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
    ...(manifest.peerDependencies ? { peerDependencies: manifest.peerDependencies } : {}),
  } as LockEntry;
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'my-app', private: true, type: 'module', dependencies }, null, 2));
  writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({
    name: 'my-app', lockfileVersion: 3, requires: true, packages: { '': { name: 'my-app', dependencies }, ...packages },
  }, null, 2));
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: dir, timeout: 180_000, env: appEnv() });
  return { dir, tarball, manifest };
}
