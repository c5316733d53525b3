/**
 * `tsx bench/edge-overhead.ts [ROOT ...]`: what the sync function itself costs per request
 * (routing, token check, body reading, validation, response), without the database: the function
 * runs in Deno against a stub PostgREST that answers every rpc at once with a canned answer, and a
 * generator sends W1-shaped pushes (100 logs of 256 bytes) and W3-shaped pushes (1 log) with a
 * valid HS256 user token (BENCH_EDGE_SECONDS per shape, 5). Trees alternate (each tree twice) so
 * machine load hits them alike; pass the previous commit's checkout to compare.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { denoBinary } from '../stack/functions.ts';
import { freePort } from '../stack/stack.ts';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [here];
const seconds = Number(process.env.BENCH_EDGE_SECONDS ?? 5);
const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const head = b64({ alg: 'HS256', typ: 'JWT' });
const body = b64({ sub: randomUUID(), role: 'authenticated', aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 3600 });
const token = `${head}.${body}.${createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url')}`;

const stubAnswer = JSON.stringify({ last_sequence: 1, results: [] });
const stub = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(stubAnswer); });
});
await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
const stubUrl = `http://127.0.0.1:${(stub.address() as { port: number }).port}`;

const pushBody = (n: number) => JSON.stringify({
  vaultId: randomUUID(),
  logs: Array.from({ length: n }, (_, i) => ({
    id: randomUUID(), encryptedData: randomBytes(256).toString('base64'), nonce: randomBytes(12).toString('base64'),
    haexTimestamp: `2026-12-02T00:00:00.000Z-${i}`, deviceId: 'bench',
  })),
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function post(port: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/sync/push', method: 'POST', agent, headers: {
      authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data),
    } }, (res) => { res.resume(); res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)))); });
    req.on('error', reject);
    req.end(data);
  });
}

async function measure(root: string) {
  const port = await freePort();
  const child = spawn(denoBinary(), ['run', '-A', '--no-prompt', '--config', path.join(root, 'functions/sync/deno.json'),
    path.join(root, 'functions/sync/index.ts')], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      HAEX_POSTGREST_URL: stubUrl, SUPABASE_URL: stubUrl, SUPABASE_JWT_SECRET: SECRET,
      SUPABASE_JWKS: JSON.stringify({ keys: [{ kty: 'oct', k: Buffer.from(SECRET).toString('base64url') }] }) },
    stdio: 'ignore',
  });
  try {
    for (let i = 0; ; i++) {
      try { await post(port, pushBody(1)); break; } catch { if (i > 2000) throw new Error('function did not start'); await new Promise((r) => setTimeout(r, 10)); }
    }
    const result: Record<string, number> = {};
    for (const [name, logs, clients] of [['W1-shaped (100 logs, 8 clients)', 100, 8], ['W3-shaped (1 log, 1 client)', 1, 1]] as const) {
      const bodies = Array.from({ length: 20 }, () => pushBody(logs));
      const end = performance.now() + seconds * 1000;
      let done = 0;
      await Promise.all(Array.from({ length: clients }, async (_, c) => {
        for (let i = c; performance.now() < end; i++) { await post(port, bodies[i % bodies.length]!); done++; }
      }));
      result[name] = done / seconds;
    }
    return result;
  } finally {
    child.kill('SIGKILL');
  }
}

const all = new Map<string, Record<string, number>[]>(roots.map((r) => [r, []]));
for (let round = 0; round < 2; round++) for (const root of roots) all.get(root)!.push(await measure(root));
for (const [root, rounds] of all) {
  const names = Object.keys(rounds[0]!);
  console.log(`${root}: ${names.map((n) => `${n} ${(rounds.reduce((s, r) => s + r[n]!, 0) / rounds.length).toFixed(0)} req/s`).join(', ')}`);
}
stub.close();
agent.destroy();
