/**
 * `npm start` as a user runs it, on ports and a data dir of its own (issue 21, items 2 and 5).
 *
 * Helpers follow the stack: `npm run status` and `npm run user` find a stack started with any
 * HAEX_* values, given any one of them or none.
 *
 * No orphans: when `npm start` dies without cleaning up (kill -9), Postgres,
 * PostgREST and the Deno functions notice within seconds and stop, so the ports are free again
 * without a second `npm start` having to clean up. Two ways to die: the stack's own node process
 * (its children get the kernel's parent-death signal), and the `npm` process that launched it (the
 * stack notices its launcher is gone and stops as after SIGTERM).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';
import { isSameProcessAlive, type ProcessIdentity } from '../stack/process.ts';
import { registeredStacks } from '../stack/registry.ts';
import { freePort, readState } from '../stack/stack.ts';

const run = promisify(execFile);

const dataDir = mkdtempSync(path.join(tmpdir(), 'haex-sync-orphans-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `npm start`, as a user runs it, on this file's data dir and free ports; resolves when ready. */
async function npmStart(): Promise<{ npm: ChildProcess; ports: number[]; output: () => string }> {
  const ports = [await freePort(), await freePort()];
  const npm = spawn('npm', ['start'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, HAEX_DATA_DIR: dataDir, HAEX_API_PORT: String(ports[0]), HAEX_DB_PORT: String(ports[1]) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout!.on('data', (chunk) => { output += chunk; });
  npm.stderr!.on('data', (chunk) => { output += chunk; });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 90 s:\n${output}`)), 90_000);
    npm.stdout!.on('data', () => { if (output.includes('haex-sync ready')) { clearTimeout(timer); resolve(); } });
    npm.once('exit', (code) => { clearTimeout(timer); reject(new Error(`npm start exited with ${code}:\n${output}`)); });
  });
  return { npm, ports, output: () => output };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Polls `condition` until it holds or `ms` pass; returns whether it held. */
async function eventually(condition: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function everythingGone(processes: ProcessIdentity[], ports: number[]): Promise<boolean> {
  if (processes.some(isSameProcessAlive)) return false;
  for (const port of ports) if (!(await portIsFree(port))) return false;
  return true;
}

let first: Awaited<ReturnType<typeof npmStart>>;
beforeAll(async () => { first = await npmStart(); }, 120_000);

/** An npm script run from the project folder with only `extra` of the HAEX_* variables set. */
async function npmRun(args: string[], extra: Record<string, string>) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(HAEX_|npm_)/i.test(key)));
  return run('npm', ['run', '-s', ...args], { cwd: PROJECT_ROOT, env: { ...env, ...extra } });
}

describe('helpers follow a stack started with other HAEX_* values', () => {
  const apiUrl = () => `http://127.0.0.1:${first.ports[0]}`;

  it.each([
    ['HAEX_API_PORT', () => ({ HAEX_API_PORT: String(first.ports[0]) })],
    ['HAEX_DB_PORT', () => ({ HAEX_DB_PORT: String(first.ports[1]) })],
    ['HAEX_DATA_DIR', () => ({ HAEX_DATA_DIR: dataDir })],
  ])('`npm run status` finds it given only %s', async (_, env) => {
    const { stdout } = await npmRun(['status'], env());
    expect(JSON.parse(stdout)).toMatchObject({ API_URL: apiUrl(), DB_URL: readState(dataDir)!.info!.DB_URL });
  });

  it('`npm run status` finds it given none, or names it among several', async () => {
    const others = registeredStacks().filter((entry) => entry.dataDir !== dataDir);
    const result = await npmRun(['status'], {}).catch((error: { code: number; stdout: string; stderr: string }) => error);
    if (others.length === 0 && !readState(path.join(PROJECT_ROOT, '.haex'))?.info) {
      expect(JSON.parse(result.stdout)).toMatchObject({ API_URL: apiUrl() });
    } else { // someone runs another stack of this checkout: the answer must name ours and how to pick it
      expect(result.stderr).toContain(`HAEX_API_PORT=${first.ports[0]}`);
    }
  });

  it('`npm run status -- -o env` prints KEY="value" lines a shell can read', async () => {
    const { stdout } = await npmRun(['status', '--', '-o', 'env'], { HAEX_API_PORT: String(first.ports[0]) });
    expect(stdout).toContain(`API_URL="${apiUrl()}"`);
    expect(stdout).toMatch(/^ANON_KEY="ey[\w.-]+"$/m);
  });

  it('`npm run user` signs a user in on it given only HAEX_API_PORT', async () => {
    const email = `helper-${crypto.randomUUID()}@test.haex.local`;
    const { stdout } = await npmRun(['user', '--', email], { HAEX_API_PORT: String(first.ports[0]) });
    const user = JSON.parse(stdout) as { email: string; access_token: string };
    expect(user.email).toBe(email);
    const res = await fetch(`${apiUrl()}/auth/v1/user`, {
      headers: { apikey: readState(dataDir)!.info!.ANON_KEY, authorization: `Bearer ${user.access_token}` },
    });
    expect(res.status).toBe(200);
  });

  it('a HAEX_API_PORT no stack runs on is answered with the running ones, exit code 1', async () => {
    const unused = await freePort();
    const failure = await npmRun(['status'], { HAEX_API_PORT: String(unused) }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain(`HAEX_API_PORT=${unused}`);
    expect((failure as { stderr: string }).stderr).toContain(`HAEX_API_PORT=${first.ports[0]}`);
  });
});

describe('npm start killed with SIGKILL', () => {
  it('stops Postgres, PostgREST and the functions within seconds when the stack process is killed, freeing its ports', async () => {
    const { npm, ports } = first;
    const state = readState(dataDir)!;
    expect(state.children.length).toBeGreaterThanOrEqual(3); // postgres, postgrest, one per function
    const npmExited = new Promise((resolve) => npm.once('exit', resolve));
    process.kill(state.owner.pid, 'SIGKILL');
    expect(await eventually(() => everythingGone([state.owner, ...state.children], ports), 15_000),
      `still alive: ${[state.owner, ...state.children].filter(isSameProcessAlive).map((p) => p.pid)}`).toBe(true);
    await npmExited;
  }, 120_000);

  it('stops the whole stack within seconds when the npm process is killed, and starts again on the same data', async () => {
    const { npm, ports, output } = await npmStart();
    expect(output()).not.toContain('did not stop cleanly'); // the first test's kill left nothing behind
    const state = readState(dataDir)!;
    npm.kill('SIGKILL');
    expect(await eventually(() => everythingGone([state.owner, ...state.children], ports), 15_000),
      `still alive: ${[state.owner, ...state.children].filter(isSameProcessAlive).map((p) => p.pid)}`).toBe(true);
    expect(readState(dataDir)).toBeUndefined(); // it stopped cleanly, as after SIGTERM
  }, 180_000);
});
