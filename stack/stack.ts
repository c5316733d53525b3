/**
 * The embedded Supabase stack: PostgreSQL, the platform bootstrap, our migrations, PostgREST, every
 * Edge Function on Deno, the Realtime server (in this process) and the gateway, started in that order
 * and stopped in reverse.
 *
 * `${dataDir}/stack.json` is the running stack's state (pids, URLs, keys). It doubles as the
 * single-instance lock: a second start on the same data dir fails while the recorded pid lives;
 * after an unclean end (kill -9) it stops the orphaned children it lists and starts anew.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import type { StackConfig } from './config.ts';
import { createAuthService } from './auth/index.ts';
import { apiKeysFor } from './defaults.ts';
import { JwtVerifier, resolveJwks } from './jwt.ts';
import { applyMigrations, applyVaultQuota, bootstrapPlatform } from './database.ts';
import { functionEnv, serveFunction, stopFunction, type ServedFunction } from './functions.ts';
import { createGateway, listen, type GatewayOptions } from './gateway.ts';
import { startPostgres, type RunningPostgres } from './postgres.ts';
import { startPostgrest } from './postgrest.ts';
import { startRealtime } from './realtime/index.ts';
import { createStorageService } from './storage/index.ts';
import { tokenSigner } from './jwt.ts';
import { identify, isSameProcessAlive, sleep, type ProcessIdentity } from './process.ts';

/** Keys as `supabase status -o json` names them, plus what our tools need. */
export interface StackInfo {
  API_URL: string;
  REST_URL: string;
  FUNCTIONS_URL: string;
  /** The embedded Storage (the CLI prints no such key; clients derive it from API_URL). */
  STORAGE_URL: string;
  DB_URL: string;
  JWT_SECRET: string;
  ANON_KEY: string;
  SERVICE_ROLE_KEY: string;
  /** The CLI's `sb_` API keys (replace ANON_KEY and SERVICE_ROLE_KEY). */
  PUBLISHABLE_KEY: string;
  SECRET_KEY: string;
  JWT_EXPIRY: number;
  /** The signing-keys file in use (absent: HS256 with JWT_SECRET); tools sign test tokens with it. */
  SIGNING_KEYS_PATH?: string;
}

interface StackState {
  owner: ProcessIdentity;
  /** Every child started so far: written as each one starts, so an interrupted start can be cleaned up. */
  children: ProcessIdentity[];
  /** Present once the stack is ready. */
  info?: StackInfo;
}

export interface RunningStack {
  info: StackInfo;
  config: StackConfig;
  /** PostgREST's own port, for benchmarks that measure the gateway's cost. */
  postgrestPort: number;
  functionPorts: Record<string, number>;
  stop(): Promise<void>;
}

export const stateFile = (dataDir: string) => path.join(dataDir, 'stack.json');

export function readState(dataDir: string): StackState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(dataDir), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

/** The state of a live stack on this data dir, or undefined. */
export function runningStackInfo(dataDir: string): StackInfo | undefined {
  const state = readState(dataDir);
  return state && isSameProcessAlive(state.owner) ? state.info : undefined;
}

function writeState(dataDir: string, state: StackState) {
  writeFileSync(stateFile(dataDir), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function claimDataDir(dataDir: string, log: (line: string) => void) {
  const state = readState(dataDir);
  if (!state) return;
  if (state.owner.pid !== process.pid && isSameProcessAlive(state.owner)) {
    throw new Error(`haex-sync is already running on ${dataDir} (pid ${state.owner.pid}`
      + `${state.info ? `, API ${state.info.API_URL}` : ', still starting'}); `
      + 'stop it first, or set HAEX_DATA_DIR, HAEX_API_PORT and HAEX_DB_PORT for a second stack');
  }
  const orphans = state.children.filter(isSameProcessAlive);
  if (orphans.length > 0) {
    log(`stopping ${orphans.length} process(es) left by a stack that did not stop cleanly`);
    for (const { pid } of orphans) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && orphans.some(isSameProcessAlive); i++) await sleep(50);
    for (const { pid } of orphans.filter(isSameProcessAlive)) process.kill(pid, 'SIGKILL');
  }
  rmSync(stateFile(dataDir), { force: true });
}

export interface StartOptions {
  /** Throwaway clusters for tests and benchmarks trade durability for speed. */
  ephemeral?: boolean;
  log?: (line: string) => void;
  /** Aborting (Ctrl-C during start) stops what has started so far and rejects. */
  signal?: AbortSignal;
}

export async function startStack(config: StackConfig, options: StartOptions = {}): Promise<RunningStack> {
  const log = options.log ?? ((line: string) => console.log(`haex-sync: ${line}`));
  mkdirSync(path.join(config.dataDir, 'logs'), { recursive: true });
  await claimDataDir(config.dataDir, log);

  const logs = path.join(config.dataDir, 'logs');
  const apiUrl = `http://${config.host}:${config.apiPort}`;
  const keys = apiKeysFor(config.jwtSecret, config.signingKeys);
  const verifier = new JwtVerifier(config.jwtSecret, config.signingKeys);
  const jwks = JSON.stringify(resolveJwks(config.jwtSecret, config.signingKeys));
  const stops: Array<() => Promise<void>> = [];
  const state: StackState = { owner: identify(process.pid), children: [] };
  const started = (pid: number | undefined) => {
    if (pid !== undefined) state.children.push(identify(pid));
    writeState(config.dataDir, state);
    options.signal?.throwIfAborted();
  };
  let gateway: http.Server | undefined;
  const realtime: { server?: Awaited<ReturnType<typeof startRealtime>> } = {};

  const stopAll = async () => {
    if (gateway) {
      // close() alone would wait for idle keep-alive connections to time out (65 s), and for the
      // websockets it handed to Realtime, which closeAllConnections() does not reach.
      realtime.server?.disconnectAll();
      const closed = new Promise<void>((resolve) => gateway!.close(() => resolve()));
      gateway.closeAllConnections();
      await closed;
    }
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
    rmSync(stateFile(config.dataDir), { force: true });
  };

  try {
    // Bind the gateway first: a taken API port should fail before anything else starts.
    started(undefined); // claims the data dir before the first child starts
    const functionPorts: Record<string, number> = {};
    const routes = new Map<string, { port: number; verifyJwt: boolean }>();
    const postgrestPort = await freePort();
    const gatewayOptions: GatewayOptions = {
      port: config.apiPort, verifier, postgrestPort, functions: routes, realtime,
      keys: { publishableKey: config.publishableKey, secretKey: config.secretKey, ...keys },
    };
    gateway = createGateway(gatewayOptions);
    await listen(gateway, config.apiPort, config.host).catch((error: NodeJS.ErrnoException) => {
      gateway = undefined;
      throw new Error(error.code === 'EADDRINUSE'
        ? `port ${config.apiPort} is in use (HAEX_API_PORT): is another stack or \`supabase start\` running?`
        : error.message);
    });

    const pg: RunningPostgres = await startPostgres({
      dataDir: config.dataDir, port: config.dbPort, password: config.dbPassword, ephemeral: options.ephemeral, log,
    }).catch((error: Error) => {
      throw new Error(/already running|in use|could not bind/i.test(error.message)
        ? `${error.message}\n(port ${config.dbPort}, HAEX_DB_PORT, may be taken)` : error.message);
    });
    stops.push(pg.stop);
    started(pg.service.child.pid);

    await bootstrapPlatform(pg.superuserUrl, config.projectRoot, config.dbPassword);
    await applyMigrations(pg.superuserUrl, config.projectRoot);
    await applyVaultQuota(pg.superuserUrl, config.vaultQuotaBytes);
    options.signal?.throwIfAborted();

    const auth = createAuthService({
      dbUrl: pg.superuserUrl, jwtSecret: config.jwtSecret, signingKeys: config.signingKeys, apiUrl, settings: config.auth,
      log: (line) => appendFileSync(path.join(logs, 'auth.log'), `${line}\n`),
    });
    stops.push(() => auth.close());
    gatewayOptions.auth = auth;

    const storage = createStorageService({
      dbUrl: `postgresql://supabase_storage_admin:${encodeURIComponent(config.dbPassword)}@127.0.0.1:${config.dbPort}/postgres`,
      dataDir: config.dataDir, verifier, signer: tokenSigner(config.jwtSecret, config.signingKeys),
      fileSizeLimit: config.storage.fileSizeLimit, buckets: config.storage.buckets,
      log: (line) => appendFileSync(path.join(logs, 'storage.log'), `${line}\n`),
    });
    stops.push(() => storage.close());
    await storage.seedBuckets();
    gatewayOptions.storage = storage;

    // Realtime connects as supabase_admin, as it does on `supabase start`.
    const realtimeServer = await startRealtime({
      dbUrl: `postgresql://supabase_admin:${encodeURIComponent(config.dbPassword)}@127.0.0.1:${config.dbPort}/postgres`,
      verifier,
    });
    stops.push(() => { realtime.server = undefined; return realtimeServer.stop(); });
    realtime.server = realtimeServer;

    const authenticatorUrl = `postgresql://authenticator:${encodeURIComponent(config.dbPassword)}@127.0.0.1:${config.dbPort}/postgres`;
    const postgrest = await startPostgrest({
      dbUrl: authenticatorUrl, port: postgrestPort, adminPort: await freePort(), jwtSecret: jwks,
      schemas: config.exposedSchemas, extraSearchPath: config.extraSearchPath, maxRows: config.maxRows,
      logFile: path.join(logs, 'postgrest.log'),
    });
    stops.push(postgrest.stop);
    started(postgrest.service.child.pid);

    // As the CLI provisions functions (functions/serve/serve.go and its main.ts template).
    const env = functionEnv({
      SUPABASE_URL: apiUrl,
      SUPABASE_ANON_KEY: keys.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: config.publishableKey }),
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: config.secretKey }),
      SUPABASE_JWKS: jwks,
      SUPABASE_DB_URL: pg.superuserUrl,
      SUPABASE_JWT_SECRET: config.jwtSecret,
      HAEX_POSTGREST_URL: `http://127.0.0.1:${postgrestPort}`,
    });
    const served = await Promise.all(config.functions.map(async (fn): Promise<ServedFunction> => {
      const result = await serveFunction(fn, await freePort(), env, path.join(logs, `function-${fn.name}.log`));
      stops.push(() => stopFunction(result));
      started(result.service.child.pid);
      return result;
    }));
    for (const fn of served) {
      routes.set(fn.config.name, { port: fn.port, verifyJwt: fn.config.verifyJwt });
      functionPorts[fn.config.name] = fn.port;
    }

    const info: StackInfo = {
      API_URL: apiUrl,
      REST_URL: `${apiUrl}/rest/v1`,
      FUNCTIONS_URL: `${apiUrl}/functions/v1`,
      STORAGE_URL: `${apiUrl}/storage/v1`,
      DB_URL: pg.superuserUrl,
      JWT_SECRET: config.jwtSecret,
      ANON_KEY: keys.anonKey,
      SERVICE_ROLE_KEY: keys.serviceRoleKey,
      PUBLISHABLE_KEY: config.publishableKey,
      SECRET_KEY: config.secretKey,
      JWT_EXPIRY: config.auth.jwtExpirySeconds,
      ...(config.signingKeysPath ? { SIGNING_KEYS_PATH: config.signingKeysPath } : {}),
    };
    state.info = info;
    writeState(config.dataDir, state);
    options.signal?.throwIfAborted();
    return { info, config, postgrestPort, functionPorts, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export const stackIsInitialised = (dataDir: string) => existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'));
