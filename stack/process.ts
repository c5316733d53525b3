/**
 * Child processes of the stack: spawn with a log file, wait for readiness, stop without orphans.
 *
 * No orphans even when the stack's process dies without cleaning up (kill -9, a crash, an OOM
 * kill): every child is started through util-linux `setpriv --pdeathsig`, which asks the kernel
 * (prctl PR_SET_PDEATHSIG) to send the child a signal the moment its parent dies, then execs the
 * real binary in place, so the pid we record is the binary's own. Node has no binding for prctl,
 * hence the wrapper; where `setpriv` is missing (not Linux, a minimal image) children are started
 * plainly and the next `npm start` stops what the dead one left (stack.ts, claimDataDir).
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface Service {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
}

let setprivPath: string | null | undefined;
/** The `setpriv` binary if it supports --pdeathsig (util-linux >= 2.33), else null. */
export function setpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = null;
    if (process.platform === 'linux') {
      for (const candidate of ['/usr/bin/setpriv', '/bin/setpriv']) {
        try {
          if (execFileSync(candidate, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('--pdeathsig')) {
            setprivPath = candidate;
            break;
          }
        } catch { /* not there */ }
      }
    }
  }
  return setprivPath;
}

export interface ServiceOptions extends SpawnOptions {
  /**
   * Signal the kernel sends the child when the stack's process dies (default SIGTERM). Postgres
   * wants SIGINT, its fast shutdown: SIGTERM would wait for every client session to end.
   */
  parentDeathSignal?: NodeJS.Signals;
}

export function startService(name: string, command: string, args: string[], logFile: string,
  options: ServiceOptions = {}): Service {
  const log = createWriteStream(logFile, { flags: 'a' });
  const { parentDeathSignal = 'SIGTERM', ...spawnOptions } = options;
  const watchdog = setpriv();
  // The death signal belongs to the thread that forks: Node spawns from its main thread, which
  // lives as long as the process does.
  const child = watchdog
    ? spawn(watchdog, [`--pdeathsig=${parentDeathSignal.replace(/^SIG/, '')}`, '--', command, ...args],
      { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
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
