/**
 * Where the helpers (`npm run status`, `npm run user`) find a running stack, whatever HAEX_* values
 * it was started with.
 *
 * Each `npm start` lists itself in a per-user registry, `$TMPDIR/haex-sync-<uid>/stacks/<pid>.json`
 * (project folder, data dir, ports, owner pid; no keys: those stay in the data dir's 0600
 * stack.json, the one source of truth). An entry whose owner is gone (kill -9) is ignored and
 * removed by the next reader. Throwaway stacks of tests and benchmarks do not register.
 *
 * Which stack a helper picks:
 * - HAEX_DATA_DIR, HAEX_API_PORT or HAEX_DB_PORT set: the running stack of this project that matches
 *   every one set (so `HAEX_API_PORT=55321 npm run status` finds the stack started with it);
 * - none set: the stack on the default data dir (.haex) if it runs, else the only running stack of
 *   this project; with several, an error lists them with the variable that picks each.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, PROJECT_ROOT } from './config.ts';
import { identify, isSameProcessAlive, type ProcessIdentity } from './process.ts';
import { readState, type StackInfo } from './stack.ts';

export interface RegisteredStack {
  projectRoot: string;
  dataDir: string;
  apiPort: number;
  dbPort: number;
  owner: ProcessIdentity;
}

export const registryDir = () => path.join(tmpdir(), `haex-sync-${process.getuid?.() ?? 'user'}`, 'stacks');

/** Lists this process's stack; returns the function that takes it off the list. */
export function registerStack(entry: Omit<RegisteredStack, 'owner'>): () => void {
  const dir = registryDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${process.pid}.json`);
  const record: RegisteredStack = { ...entry, owner: identify(process.pid) };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return () => rmSync(file, { force: true });
}

/** The live stacks started from this project (entries of dead owners are removed on the way). */
export function registeredStacks(projectRoot = PROJECT_ROOT): RegisteredStack[] {
  let files: string[];
  try {
    files = readdirSync(registryDir()).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const live: RegisteredStack[] = [];
  for (const name of files) {
    const file = path.join(registryDir(), name);
    let entry: RegisteredStack;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as RegisteredStack;
    } catch {
      continue; // being written, or not ours to judge
    }
    if (!isSameProcessAlive(entry.owner)) {
      rmSync(file, { force: true });
      continue;
    }
    if (entry.projectRoot === projectRoot) live.push(entry);
  }
  return live;
}

export type FoundStack = { info: StackInfo; dataDir: string } | { error: string };

const describe = (entry: Pick<RegisteredStack, 'dataDir' | 'apiPort' | 'dbPort'>) =>
  `HAEX_DATA_DIR=${entry.dataDir} HAEX_API_PORT=${entry.apiPort} HAEX_DB_PORT=${entry.dbPort}`;

/** The running stack the HAEX_* variables of `env` point at (see the module doc). */
export function findRunningStack(env: NodeJS.ProcessEnv = process.env, projectRoot = PROJECT_ROOT): FoundStack {
  const config = loadConfig(env, projectRoot);
  const infoOf = (dataDir: string) => {
    const state = readState(dataDir);
    return state?.info && isSameProcessAlive(state.owner) ? state.info : undefined;
  };
  const candidates = new Map<string, { dataDir: string; apiPort: number; dbPort: number }>();
  for (const entry of registeredStacks(projectRoot)) candidates.set(entry.dataDir, entry);
  const defaultInfo = infoOf(config.dataDir);
  if (defaultInfo) {
    candidates.set(config.dataDir, {
      dataDir: config.dataDir, apiPort: Number(new URL(defaultInfo.API_URL).port), dbPort: Number(new URL(defaultInfo.DB_URL).port),
    });
  }
  const set = (name: string) => env[name] !== undefined && env[name] !== '';
  const chosen = ['HAEX_DATA_DIR', 'HAEX_API_PORT', 'HAEX_DB_PORT'].filter(set);
  const matching = [...candidates.values()].filter((c) =>
    (!set('HAEX_DATA_DIR') || c.dataDir === config.dataDir)
    && (!set('HAEX_API_PORT') || c.apiPort === config.apiPort)
    && (!set('HAEX_DB_PORT') || c.dbPort === config.dbPort));
  const found = (dataDir: string): FoundStack => {
    const info = infoOf(dataDir);
    return info ? { info, dataDir } : { error: `haex-sync on ${dataDir} is still starting or has just stopped` };
  };

  if (chosen.length > 0) {
    if (matching.length === 1) return found(matching[0]!.dataDir);
    if (matching.length === 0) {
      return { error: `no running haex-sync matches ${chosen.map((name) => `${name}=${env[name]}`).join(' ')}: `
        + (candidates.size > 0 ? `running: ${[...candidates.values()].map(describe).join('; ')}` : 'start it with `npm start`') };
    }
  }
  if (defaultInfo && (chosen.length === 0 || matching.some((c) => c.dataDir === config.dataDir))) return found(config.dataDir);
  if (matching.length === 1) return found(matching[0]!.dataDir);
  if (matching.length === 0) return { error: `haex-sync is not running (looked for ${config.dataDir} and stacks started from ${projectRoot}): start it with \`npm start\`` };
  return { error: `several haex-sync stacks run; pick one with its variables:\n${matching.map((c) => `  ${describe(c)}`).join('\n')}` };
}
