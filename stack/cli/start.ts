/** `npm start`: runs the embedded stack in the foreground until Ctrl-C or SIGTERM. */
import { loadConfig } from '../config.ts';
import { startStack, type RunningStack } from '../stack.ts';

const startedAt = Date.now();
const abort = new AbortController();
let starting: Promise<RunningStack> | undefined;
let stopping = false;

/** Stops what runs, also in the middle of starting: the start then unwinds what it had started. */
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`haex-sync: ${signal} received, stopping`);
  abort.abort();
  const stack = await starting?.catch(() => undefined);
  await stack?.stop();
  console.log('haex-sync: stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGHUP', () => void shutdown('SIGHUP'));

try {
  const config = loadConfig();
  starting = startStack(config, { signal: abort.signal });
  const stack = await starting;
  console.log(`haex-sync ready in ${Date.now() - startedAt} ms: API ${stack.info.API_URL} `
    + `(DB ${stack.info.DB_URL.replace(/:[^:@/]+@/, ':***@')}, data ${config.dataDir}; \`npm run status\` for keys)`);
} catch (error) {
  if (!stopping) {
    console.error(`haex-sync: could not start: ${(error as Error).message}`);
    process.exit(1);
  }
}
