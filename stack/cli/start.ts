/**
 * `npm start`: runs the embedded stack in the foreground until Ctrl-C or SIGTERM, or until the npm
 * process that launched it dies (kill -9 of `npm start`): then it stops as after SIGTERM. If this
 * process itself is killed, its children stop on their own (stack/process.ts, parent-death signal).
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config.ts';
import { identify, isSameProcessAlive, type ProcessIdentity } from '../process.ts';
import { registerStack } from '../registry.ts';
import { startStack, type RunningStack } from '../stack.ts';

const startedAt = Date.now();
const abort = new AbortController();
let starting: Promise<RunningStack> | undefined;
let stopping = false;
let unregister: (() => void) | undefined;

/** Stops what runs, also in the middle of starting: the start then unwinds what it had started. */
async function shutdown(reason: string) {
  if (stopping) return;
  stopping = true;
  console.log(`haex-sync: ${reason}, stopping`);
  abort.abort();
  unregister?.();
  const stack = await starting?.catch(() => undefined);
  await stack?.stop();
  console.log('haex-sync: stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT received'));
process.on('SIGTERM', () => void shutdown('SIGTERM received'));
process.on('SIGHUP', () => void shutdown('SIGHUP received'));

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
const isNpm = (pid: number) => {
  try {
    // npm retitles itself ("npm start"), which rewrites its cmdline; a plain node runs npm-cli.js.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.slice(0, 2).some((arg) => /^(\S*\/)?npm(-cli\.js)?(\s|$)/.test(arg));
  } catch {
    return false;
  }
};

/**
 * The launcher chain up to `npm` (npm, and the `sh -c` npm runs scripts with), if npm started us
 * within three generations. Started some other way (`node --import tsx stack/cli/start.ts`,
 * nohup, a service manager), nothing is watched: a shell that merely started us is not our owner.
 */
function launchers(): ProcessIdentity[] {
  const chain: ProcessIdentity[] = [];
  for (let pid = parentOf(process.pid); pid && pid > 1 && chain.length < 3; pid = parentOf(pid)) {
    chain.push(identify(pid));
    if (isNpm(pid)) return chain;
  }
  return [];
}
const watched = launchers();
if (watched.length > 0) {
  setInterval(() => {
    if (!watched.every(isSameProcessAlive)) void shutdown('its npm launcher is gone');
  }, 500).unref();
}

try {
  const config = loadConfig();
  starting = startStack(config, { signal: abort.signal });
  const stack = await starting;
  // Listed so that `npm run status` and `npm run user` find it whatever HAEX_* it was started with.
  unregister = registerStack({
    projectRoot: config.projectRoot, dataDir: config.dataDir,
    apiPort: Number(new URL(stack.info.API_URL).port), dbPort: Number(new URL(stack.info.DB_URL).port),
  });
  console.log(`haex-sync ready in ${Date.now() - startedAt} ms: API ${stack.info.API_URL} `
    + `(DB ${stack.info.DB_URL.replace(/:[^:@/]+@/, ':***@')}, data ${config.dataDir}; \`npm run status\` for keys)`);
} catch (error) {
  if (!stopping) {
    console.error(`haex-sync: could not start: ${(error as Error).message}`);
    process.exit(1);
  }
}
