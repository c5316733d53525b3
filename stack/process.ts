/** Child processes of the stack: spawn with a log file, wait for readiness, stop without orphans. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface Service {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
}

export function startService(name: string, command: string, args: string[], logFile: string,
  options: SpawnOptions = {}): Service {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  void exited.then(() => setTimeout(() => log.end(), 50));
  return { name, child, logFile, exited };
}

/** Sends `signal`, escalates to SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopService(service: Service, signal: NodeJS.Signals = 'SIGTERM', graceMs = 8000) {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill(signal);
  const timer = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
  await service.exited;
  clearTimeout(timer);
}

export function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Polls until `probe` answers true; fails early, with the log's tail, if the service exits. */
export async function waitUntil(service: Service, probe: () => Promise<boolean>, timeoutMs = 30_000) {
  let exitCode: number | null | undefined;
  void service.exited.then((code) => { exitCode = code ?? -1; });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(`${service.name} exited (code ${exitCode}) while starting:\n${tailOf(service.logFile)}`);
    }
    if (await probe().catch(() => false)) return;
    await sleep(25);
  }
  throw new Error(`${service.name} was not ready after ${timeoutMs} ms:\n${tailOf(service.logFile)}`);
}

export const waitForPort = (service: Service, port: number, host = '127.0.0.1', timeoutMs?: number) =>
  waitUntil(service, () => canConnect(port, host), timeoutMs);

/** True if a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * A process as recorded in a state file: its pid plus its start time (field 22 of /proc/PID/stat),
 * so that a pid the kernel has since given to an unrelated process is never taken for ours.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: string | null;
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export const identify = (pid: number): ProcessIdentity => ({ pid, startTime: startTimeOf(pid) });

/** True if that very process (same pid, same start time) still runs. */
export function isSameProcessAlive(identity: ProcessIdentity): boolean {
  if (!isAlive(identity.pid)) return false;
  return identity.startTime === null || startTimeOf(identity.pid) === identity.startTime;
}
