/**
 * npm 10 (issue 21, item 6): the project requires npm >= 11, because npm 10 (what Node 20 ships)
 * ignores `allowScripts` and runs every install script. The project's `preinstall` fails an install
 * by npm 10 with a message that says why and how to repeat it; npm 11 passes. Both run for real, in
 * a temporary copy of the project's package.json (without dependencies, so nothing downloads) and
 * .npmrc; npm 10.8.2 (Node 20's) is fetched once from the registry into node_modules/.cache.
 * An npm started by another npm (`npx -y npm@10 ci`) inherits the outer one's `npm_config_*`
 * variables, user agent included; the guard must judge the npm that runs, not the one that launched it.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';

const run = promisify(execFile);
const NPM_10 = '10.8.2';
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));

async function npm10(): Promise<string> {
  const dir = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'haex-sync', `npm-${NPM_10}`);
  const cli = path.join(dir, 'package', 'bin', 'npm-cli.js');
  if (existsSync(cli)) return cli;
  mkdirSync(dir, { recursive: true });
  const { stdout } = await run('npm', ['pack', `npm@${NPM_10}`, '--pack-destination', dir, '--silent'], { cwd: dir, env, timeout: 120_000 });
  await run('tar', ['xzf', path.join(dir, stdout.trim().split('\n').pop()!), '-C', dir]);
  return cli;
}

let project: string;
beforeAll(() => {
  project = mkdtempSync(path.join(tmpdir(), 'haex-sync-npm-'));
  const { dependencies: _d, devDependencies: _dd, ...rest } = pkg;
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ ...rest, scripts: { preinstall: pkg.scripts.preinstall } }, null, 2));
  copyFileSync(path.join(PROJECT_ROOT, '.npmrc'), path.join(project, '.npmrc'));
  const script = /node (\S+)/.exec(pkg.scripts.preinstall)![1]!;
  mkdirSync(path.dirname(path.join(project, script)), { recursive: true });
  copyFileSync(path.join(PROJECT_ROOT, script), path.join(project, script));
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('installing with npm 10', () => {
  it('declares npm >= 11 in engines', () => {
    expect(pkg.engines.npm).toBe('>=11');
  });

  it('fails with a message naming the version, why, and how to install again', async () => {
    const cli = await npm10();
    const failure = await run(process.execPath, [cli, 'install', '--no-audit', '--no-fund'], { cwd: project, env })
      .catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    const { stderr } = failure as { stderr: string };
    expect(stderr).toContain(`needs npm >= 11; this is npm ${NPM_10}`);
    expect(stderr).toContain('ignores package.json "allowScripts"');
    for (const [name, allowed] of Object.entries(pkg.allowScripts)) if (allowed === false) expect(stderr).toContain(name);
    expect(stderr).toContain('npm install -g npm@11');
  }, 180_000);

  it('fails when npm 10 is started by npm 11 (as `npx -y npm@10 ci` does), although it inherits npm 11\'s user agent', async () => {
    const cli = await npm10();
    const failure = await run('npm', ['exec', '-c', `"${process.execPath}" "${cli}" install --no-audit --no-fund`], { cwd: project, env })
      .catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain(`needs npm >= 11; this is npm ${NPM_10}`);
  }, 180_000);

  it('passes when npm 11 is started by npm 10, although it inherits npm 10\'s user agent', async () => {
    const cli = await npm10();
    await expect(run(process.execPath, [cli, 'exec', '-c', 'npm install --no-audit --no-fund'], { cwd: project, env })).resolves.toBeDefined();
  }, 180_000);

  it('passes with the npm 11 the project is installed with', async () => {
    const { stdout } = await run('npm', ['--version'], { env });
    expect(Number(stdout.split('.')[0])).toBeGreaterThanOrEqual(11);
    await expect(run('npm', ['install', '--no-audit', '--no-fund'], { cwd: project, env })).resolves.toBeDefined();
  });
});

describe('installing on the supported Node versions', () => {
  it(`npm ci prints no EBADENGINE warning on this Node (${process.version}): a dry run of the lockfile`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'haex-sync-ci-'));
    try {
      for (const file of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(path.join(PROJECT_ROOT, file), path.join(dir, file));
      const { stdout, stderr } = await run('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, env, timeout: 120_000 });
      expect(`${stdout}${stderr}`).toMatch(/added \d+ packages/);
      expect(`${stdout}${stderr}`.split('\n').filter((line) => /EBADENGINE/.test(line))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
