/**
 * The embedded stack (issue 2): gateway routing and key checks, verify_jwt, the CLI commands, and
 * the lifecycle of `npm start` (ready line, single instance, clean stop, restart after kill -9).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { verifyJwt } from '../stack/jwt.ts';
import { identify, isSameProcessAlive, type ProcessIdentity } from '../stack/process.ts';
import { freePort, readState } from '../stack/stack.ts';
import { adminSql, api, expiredTokenFor, forgedServiceKey, forgedTokenFor, newUser, rpc, stack } from './support/stack.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

describe('gateway', () => {
  it('serves the sync health route through /functions/v1 without any key', async () => {
    const res = await api('/functions/v1/sync', { apikey: null });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'haex-sync-server', version: pkg.version, status: 'ok' });
    expect(res.body).toHaveProperty('env');
  });

  it('routes /rest/v1 to PostgREST with the apikey as bearer token', async () => {
    const res = await api('/rest/v1/');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ swagger: '2.0' });
  });

  it('accepts the apikey as a query parameter, as Kong does', async () => {
    const res = await api(`/rest/v1/?apikey=${stack.ANON_KEY}`, { apikey: null });
    expect(res.status).toBe(200);
  });

  it('routes /auth/v1 to the embedded Auth service, which answers as GoTrue', async () => {
    const res = await api('/auth/v1/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'GoTrue' });
  });

  it('answers its own errors as Kong does, `message` at the top level (what supabase-js reads)', async () => {
    const route = await api('/nope');
    expect([route.status, route.body]).toEqual([404, { message: 'no Route matched with those values', code: 'route_not_found' }]);
    const fn = await api('/functions/v1/no-such-function', { token: stack.ANON_KEY });
    expect(fn.status).toBe(404);
    expect(fn.body).toMatchObject({ code: 'function_not_found', message: expect.stringContaining('no-such-function') });
  });

  it('demands no apikey on any route, as the CLI\'s Kong: without one, /rest/v1 runs as anon and /auth/v1 serves', async () => {
    expect((await api('/rest/v1/', { apikey: null })).status).toBe(200);
    expect((await api('/auth/v1/settings', { apikey: null })).status).toBe(200);
    const user = await newUser('bearer');
    expect((await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey: null, token: user.access_token, body: {} })).status).toBe(200);
  });

  it('refuses an apikey that is none of the project\'s keys (hosted\'s 401 Invalid API key); a forged bearer reaches PostgREST, which refuses it', async () => {
    for (const apikey of [forgedServiceKey(), 'not-a-key']) {
      for (const route of ['/rest/v1/', '/auth/v1/user']) {
        const res = await api(route, { apikey });
        expect([res.status, res.body.message], `${route} ${apikey}`).toEqual([401, 'Invalid API key']);
      }
    }
    const user = await newUser('bearer');
    const forged = await api('/rest/v1/', { token: forgedTokenFor(user) });
    expect([forged.status, forged.body.code]).toEqual([401, 'PGRST301']);
  });

  it('enforces verify_jwt for functions that keep it on: no, forged and expired tokens get 401 from the gateway', async () => {
    // sync sets verify_jwt = false (it verifies itself); a second function keeps the default.
    const { createGateway, listen } = await import('../stack/gateway.ts');
    const { JwtVerifier } = await import('../stack/jwt.ts');
    const http = await import('node:http');
    const upstream = http.createServer((_req, res) => res.end('reached'));
    await listen(upstream, 0);
    const gateway = createGateway({
      port: 0, verifier: new JwtVerifier(stack.JWT_SECRET, stack.SIGNING_KEYS), postgrestPort: 1, realtime: {},
      functions: new Map([['guarded', { port: (upstream.address() as { port: number }).port, verifyJwt: true }]]),
      keys: { publishableKey: stack.PUBLISHABLE_KEY, secretKey: stack.SECRET_KEY, anonKey: stack.ANON_KEY, serviceRoleKey: stack.SERVICE_ROLE_KEY },
    });
    await listen(gateway, 0);
    const base = `http://127.0.0.1:${(gateway.address() as { port: number }).port}/functions/v1/guarded`;
    const call = (headers: Record<string, string>) => fetch(base, { headers }).then(async (r) => `${r.status} ${await r.text()}`);
    try {
      const user = await newUser('verify');
      expect(await call({})).toMatch(/^401 .*missing_authorization/);
      expect(await call({ authorization: `Bearer ${forgedTokenFor(user)}` })).toMatch(/^401 .*invalid_jwt/);
      expect(await call({ authorization: `Bearer ${expiredTokenFor(user)}` })).toMatch(/^401 .*invalid_jwt/);
      expect(await call({ authorization: 'Bearer a.b.c' })).toMatch(/^401 /);
      expect(await call({ authorization: `Bearer ${user.access_token}` })).toBe('200 reached');
      expect(await call({ apikey: stack.PUBLISHABLE_KEY })).toBe('200 reached'); // the anon token the gateway adds
    } finally {
      gateway.close();
      upstream.close();
    }
  });

  it('lets CORS preflights reach the function, as hosted Supabase does', async () => {
    const res = await fetch(`${stack.API_URL}/functions/v1/sync/push`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBeTruthy();
  });
});

describe('users and tokens', () => {
  it('mints GoTrue-shaped access tokens that verify with the stack secret', async () => {
    const user = await newUser('claims');
    const claims = verifyJwt(user.access_token, stack.JWT_SECRET)!;
    expect(claims).not.toBeNull();
    expect(Object.keys(claims).sort()).toEqual([
      'aal', 'amr', 'app_metadata', 'aud', 'email', 'exp', 'iat', 'is_anonymous', 'iss', 'phone', 'role',
      'session_id', 'sub', 'user_metadata',
    ]);
    expect(claims).toMatchObject({
      aud: 'authenticated', role: 'authenticated', sub: user.id, email: user.email, aal: 'aal1', is_anonymous: false,
      iss: `${stack.API_URL}/auth/v1`, app_metadata: { provider: 'email', providers: ['email'] },
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(stack.JWT_EXPIRY);
    const [row] = await adminSql()`select email, aud, role, email_confirmed_at from auth.users where id = ${user.id}`;
    expect(row).toMatchObject({ email: user.email, aud: 'authenticated', role: 'authenticated' });
    expect(row!.email_confirmed_at).toBeInstanceOf(Date);
  });

  it('has PostgREST run a user token as role authenticated with auth.uid() = sub', async () => {
    const user = await newUser('whoami');
    const vaultId = crypto.randomUUID();
    const res = await rpc('create_vault', { vault_id: vaultId, encrypted_vault_key: 'a2V5', salt: 'c2FsdA==', nonce: 'bm9uY2U=' }, user.access_token);
    expect(res.status).toBe(200);
    const [vault] = await adminSql()`select owner_id from public.vaults where id = ${vaultId}`;
    expect(vault!.owner_id).toBe(user.id);
    const anon = await rpc('create_vault', { vault_id: crypto.randomUUID(), encrypted_vault_key: 'a2V5', salt: 'c2FsdA==', nonce: 'bm9uY2U=' });
    expect(anon.status).toBe(401);
  });
});

describe('CLI', () => {
  const env = { ...process.env, HAEX_DATA_DIR: stack.DATA_DIR };

  it('`npm run status` prints the keys `supabase status -o json` uses', async () => {
    const { stdout } = await run(tsx, ['stack/cli/status.ts'], { cwd: root, env });
    const status = JSON.parse(stdout);
    expect(status).toMatchObject({
      API_URL: stack.API_URL, DB_URL: stack.DB_URL, ANON_KEY: stack.ANON_KEY,
      SERVICE_ROLE_KEY: stack.SERVICE_ROLE_KEY, JWT_SECRET: stack.JWT_SECRET,
      PUBLISHABLE_KEY: 'sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH', SECRET_KEY: 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz',
    });
    expect(verifyJwt(status.ANON_KEY, status.JWT_SECRET)).toMatchObject({ role: 'anon' });
    expect(verifyJwt(status.SERVICE_ROLE_KEY, status.JWT_SECRET)).toMatchObject({ role: 'service_role' });
  });

  it('uses the well-known keys of `supabase start` by default', () => {
    expect(stack.JWT_SECRET).toBe('super-secret-jwt-token-with-at-least-32-characters-long');
    expect(stack.ANON_KEY).toBe('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0');
  });

  it('`npm run user -- EMAIL` creates the user once and prints a fresh token each time', async () => {
    const email = `cli-${crypto.randomUUID()}@test.haex.local`;
    const first = JSON.parse((await run(tsx, ['stack/cli/user.ts', email], { cwd: root, env })).stdout);
    const second = JSON.parse((await run(tsx, ['stack/cli/user.ts', email.toUpperCase()], { cwd: root, env })).stdout);
    expect(first).toMatchObject({ email, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(second.id).toBe(first.id);
    expect(verifyJwt(first.access_token, stack.JWT_SECRET)).toMatchObject({ sub: first.id });
    const rows = await adminSql()`select count(*)::int as n from auth.users where email = ${email}`;
    expect(rows[0]!.n).toBe(1);
  });

  it('`npm run user` rejects a malformed email with exit code 1', async () => {
    await expect(run(tsx, ['stack/cli/user.ts', 'not-an-email'], { cwd: root, env })).rejects.toMatchObject({ code: 1 });
  });

  it('a second start on a running data dir fails at once with a clear message', async () => {
    const started = Date.now();
    const failure = await run(tsx, ['stack/cli/start.ts'], {
      cwd: root, env: { ...env, HAEX_API_PORT: String(await freePort()), HAEX_DB_PORT: String(await freePort()) },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain('already running');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

/** Runs `npm start`'s entrypoint on its own data dir and ports; resolves once it prints the ready line. */
async function startCli(dataDir: string): Promise<{ child: ChildProcess; output: () => string; apiUrl: string }> {
  const apiPort = await freePort();
  const child = spawn(tsx, ['stack/cli/start.ts'], {
    cwd: root,
    env: { ...process.env, HAEX_DATA_DIR: dataDir, HAEX_API_PORT: String(apiPort), HAEX_DB_PORT: String(await freePort()) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => { output += chunk; });
  child.stderr!.on('data', (chunk) => { output += chunk; });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 120 s:\n${output}`)), 120_000);
    child.stdout!.on('data', () => {
      if (output.includes('haex-sync ready')) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${output}`)); });
  });
  return { child, output: () => output, apiUrl: `http://127.0.0.1:${apiPort}` };
}

const exitOf = (child: ChildProcess) => new Promise<number | null>((resolve) => {
  if (child.exitCode !== null) resolve(child.exitCode);
  else child.once('exit', (code) => resolve(code));
});

async function waitForDeath(processes: ProcessIdentity[], ms = 15_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && processes.some(isSameProcessAlive)) await new Promise((r) => setTimeout(r, 50));
  return processes.filter(isSameProcessAlive).map((p) => p.pid);
}

describe('npm start lifecycle', () => {
  it('keeps data across SIGTERM and restart, leaving no process behind', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'haex-sync-lifecycle-'));
    try {
      const first = await startCli(dataDir);
      expect(first.output()).toMatch(/haex-sync ready in \d+ ms: API http:\/\/127\.0\.0\.1:\d+/);
      const state = readState(dataDir)!;
      expect(state.children.length).toBeGreaterThanOrEqual(3); // postgres, postgrest, one per function
      const dbUrl = state.info!.DB_URL;
      const email = `keep-${crypto.randomUUID()}@test.haex.local`;
      const { stdout } = await run(tsx, ['stack/cli/user.ts', email], { cwd: root, env: { ...process.env, HAEX_DATA_DIR: dataDir } });
      const user = JSON.parse(stdout) as { id: string };

      first.child.kill('SIGTERM');
      expect(await exitOf(first.child)).toBe(0);
      expect(await waitForDeath(state.children)).toEqual([]);
      expect(readState(dataDir)).toBeUndefined();

      const second = await startCli(dataDir);
      const secondState = readState(dataDir)!;
      const postgres = (await import('postgres')).default;
      const sql = postgres(secondState.info!.DB_URL, { max: 1 });
      try {
        const rows = await sql`select id from auth.users where email = ${email}`;
        expect(rows.map((r) => r.id)).toEqual([user.id]);
      } finally {
        await sql.end();
      }
      expect(secondState.info!.DB_URL.replace(/:\d+\//, '/')).toBe(dbUrl.replace(/:\d+\//, '/'));
      second.child.kill('SIGINT');
      expect(await exitOf(second.child)).toBe(0);
      expect(await waitForDeath(secondState.children)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('stops what it started when SIGTERM arrives in the middle of starting', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'haex-sync-early-'));
    try {
      const child = spawn(tsx, ['stack/cli/start.ts'], {
        cwd: root,
        env: { ...process.env, HAEX_DATA_DIR: dataDir, HAEX_API_PORT: String(await freePort()), HAEX_DB_PORT: String(await freePort()) },
        stdio: 'ignore',
      });
      let children: ProcessIdentity[] = [];
      // Until Postgres runs (initdb takes a while on a loaded machine), then interrupt.
      for (const deadline = Date.now() + 120_000; Date.now() < deadline && children.length === 0;) {
        await new Promise((r) => setTimeout(r, 20));
        const state = readState(dataDir);
        if (state?.info) throw new Error('was ready before the test could interrupt it');
        children = state?.children ?? [];
      }
      expect(children.length).toBeGreaterThan(0); // Postgres runs, the rest is still starting
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      expect(await waitForDeath(children)).toEqual([]);
      expect(readState(dataDir)).toBeUndefined();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('never takes a reused pid for one of its processes', () => {
    const self = identify(process.pid);
    expect(isSameProcessAlive(self)).toBe(true);
    expect(isSameProcessAlive({ ...self, startTime: '1' })).toBe(false);
  });

  it('recovers after the launcher was killed with SIGKILL', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'haex-sync-kill9-'));
    try {
      const first = await startCli(dataDir);
      const orphans = readState(dataDir)!.children;
      // tsx runs the script in a child node process: kill that one, the stack's owner, without warning.
      process.kill(readState(dataDir)!.owner.pid, 'SIGKILL');
      await exitOf(first.child);
      // Its children stop on their own (tests/start-orphans.test.ts); what is left is the state file
      // naming a dead owner, and perhaps children still shutting down, which the next start stops.
      const second = await startCli(dataDir);
      expect(orphans.filter(isSameProcessAlive)).toEqual([]);
      const health = await fetch(`${second.apiUrl}/functions/v1/sync`, { headers: { authorization: `Bearer ${stack.ANON_KEY}` } });
      expect(health.status).toBe(200);
      const children = readState(dataDir)!.children;
      second.child.kill('SIGTERM');
      expect(await exitOf(second.child)).toBe(0);
      expect(await waitForDeath(children)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});
