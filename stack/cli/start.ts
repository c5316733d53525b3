/** `npm start`: runs the embedded stack in the foreground until Ctrl-C or SIGTERM. */
import { loadConfig } from '../config.ts';
import { startStack } from '../stack.ts';

const started = Date.now();
let stack: Awaited<ReturnType<typeof startStack>> | undefined;
let stopping = false;

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`haex-sync: ${signal} received, stopping`);
  await stack?.stop();
  console.log('haex-sync: stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGHUP', () => void shutdown('SIGHUP'));

try {
  const config = loadConfig();
  stack = await startStack(config);
  if (stopping) await stack.stop();
  else {
    console.log(`haex-sync ready in ${Date.now() - started} ms: API ${stack.info.API_URL} `
      + `(DB ${stack.info.DB_URL.replace(/:[^:@/]+@/, ':***@')}, data ${config.dataDir}; \`npm run status\` for keys)`);
  }
} catch (error) {
  console.error(`haex-sync: could not start: ${(error as Error).message}`);
  process.exit(1);
}
