/**
 * The throwaway stack in a child process of its own, so that the API gateway (which runs inside the
 * stack's Node process, as Kong runs apart from clients in `supabase start`) does not share the load
 * generator's event loop and CPU accounting.
 *
 * As a child (`node --import tsx bench/stack-process.ts`): starts startThrowawayStack(), prints one
 * JSON line {info, postgrestPort, functionPorts}, and disposes of the stack on SIGTERM, SIGINT or
 * when its stdin closes (the parent died), then exits.
 * As a module: startStackProcess() spawns that child and returns the same fields plus dispose().
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { StackInfo } from '../stack/stack.ts';

export interface StackProcess {
  info: StackInfo;
  postgrestPort: number;
  functionPorts: Record<string, number>;
  dbPassword: string;
  pid: number;
  dispose(): Promise<void>;
}

const self = fileURLToPath(import.meta.url);

export function startStackProcess(): Promise<StackProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', self], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let disposing: Promise<void> | undefined;
  const dispose = () => (disposing ??= (async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  })());
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      try {
        const started = JSON.parse(line) as Omit<StackProcess, 'dispose' | 'pid'>;
        resolve({ ...started, pid: child.pid!, dispose });
      } catch (error) {
        void dispose();
        reject(new Error(`stack process: ${String(error)}: ${line}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`stack process exited with ${code} before it was ready`)));
  });
}

async function serve() {
  // Handlers first: a signal (or the parent's death) during the start stops the stack once it is up.
  let stack: Awaited<ReturnType<typeof import('../tests/support/throwaway-stack.ts')['startThrowawayStack']>> | undefined;
  let wanted = false;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    wanted = true;
    if (!stack) return;
    stopping ??= stack.dispose().catch((error) => console.error(`stack dispose failed: ${String(error)}`))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  const { startThrowawayStack } = await import('../tests/support/throwaway-stack.ts');
  stack = await startThrowawayStack({ quiet: true });
  if (wanted) return stop();
  process.stdout.write(`${JSON.stringify({
    info: stack.info, postgrestPort: stack.postgrestPort, functionPorts: stack.functionPorts, dbPassword: stack.config.dbPassword,
  })}\n`);
}

if (process.argv[1] && fileURLToPath(`file://${process.argv[1]}`) === self) {
  serve().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
