/**
 * No orphans (issue 21, item 5): when `npm start` dies without cleaning up (kill -9), Postgres,
 * PostgREST and the Deno functions notice within seconds and stop, so the ports are free again
 * without a second `npm start` having to clean up. Two ways to die: the stack's own node process
 * (its children get the kernel's parent-death signal), and the `npm` process that launched it (the
 * stack notices its launcher is gone and stops as after SIGTERM).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';
import { isSameProcessAlive, type ProcessIdentity } from '../stack/process.ts';
import { freePort, readState } from '../stack/stack.ts';

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

describe('npm start killed with SIGKILL', () => {
  it('stops Postgres, PostgREST and the functions within seconds when the stack process is killed, freeing its ports', async () => {
    const { npm, ports } = await npmStart();
    const state = readState(dataDir)!;
    expect(state.children.length).toBeGreaterThanOrEqual(3); // postgres, postgrest, one per function
    const npmExited = new Promise((resolve) => npm.once('exit', resolve));
    process.kill(state.owner.pid, 'SIGKILL');
    expect(await eventually(() => everythingGone([state.owner, ...state.children], ports), 10_000),
      `still alive: ${[state.owner, ...state.children].filter(isSameProcessAlive).map((p) => p.pid)}`).toBe(true);
    await npmExited;
  });

  it('stops the whole stack within seconds when the npm process is killed, and starts again on the same data', async () => {
    const { npm, ports, output } = await npmStart();
    expect(output()).not.toContain('did not stop cleanly'); // the first test's kill left nothing behind
    const state = readState(dataDir)!;
    npm.kill('SIGKILL');
    expect(await eventually(() => everythingGone([state.owner, ...state.children], ports), 10_000),
      `still alive: ${[state.owner, ...state.children].filter(isSameProcessAlive).map((p) => p.pid)}`).toBe(true);
    expect(readState(dataDir)).toBeUndefined(); // it stopped cleanly, as after SIGTERM
  });
});
