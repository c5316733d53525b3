/**
 * Edge Function `sync` (issue 4) through the gateway of the real stack: every route's success,
 * every error status, isolation between two users on every route, and CORS.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminSql, api, expiredTokenFor, forgedTokenFor, newUser, stack } from './support/stack.ts';
import type { StackUser } from '../stack/users.ts';
import { deviceIdOf } from './support/sql-fixtures.ts';

const pkg = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
const F = '/functions/v1/sync';
const b64 = (n: number) => randomBytes(n).toString('base64');
const key = () => ({ encryptedVaultKey: b64(60), salt: b64(32), nonce: b64(12) });
const log = (i: number, extra: Record<string, unknown> = {}) =>
  ({ id: randomUUID(), encryptedData: b64(48), nonce: b64(12), haexTimestamp: `2026-11-27T00:00:00.000Z-${i}`, deviceId: 'dev-1', ...extra });

async function createVault(user: StackUser, vaultId = randomUUID()) {
  const res = await api(`${F}/vault-key`, { token: user.access_token, body: { vaultId, ...key() } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return vaultId;
}

function expectError(res: { status: number; body: any; headers: Headers }, status: number, code?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect(res.body).toHaveProperty('error.code');
  expect(typeof res.body.error.message).toBe('string');
  if (code) expect(res.body.error.code).toBe(code);
  expect(JSON.stringify(res.body)).not.toMatch(/\bat .*\.ts:\d+/); // no stack traces
}

let alice: StackUser;
let bob: StackUser;
beforeAll(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
});

describe('health', () => {
  it('GET / reports name, version, status and env', async () => {
    for (const p of [F, `${F}/`]) {
      const res = await api(p, { token: alice.access_token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ name: 'haex-sync-server', version: pkg.version, status: 'ok', env: expect.any(String) });
    }
  });
});

describe('vault keys', () => {
  it('creates (201), reads (200), updates with ifUpdatedAt (200) and refuses a stale ifUpdatedAt (409)', async () => {
    const vaultId = randomUUID();
    const k = key();
    const created = await api(`${F}/vault-key`, { token: alice.access_token, body: { vaultId, ...k } });
    expect(created.status).toBe(201);
    expect(created.body.vaultKey).toEqual({ vaultId, ...k, createdAt: expect.any(String), updatedAt: expect.any(String) });

    const read = await api(`${F}/vault-key/${vaultId}`, { token: alice.access_token });
    expect(read.status).toBe(200);
    expect(read.body.vaultKey).toEqual(created.body.vaultKey);

    const k2 = key();
    const updated = await api(`${F}/vault-key/${vaultId}`, {
      method: 'PUT', token: alice.access_token, body: { ...k2, ifUpdatedAt: read.body.vaultKey.updatedAt },
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body.vaultKey).toMatchObject({ vaultId, ...k2, createdAt: created.body.vaultKey.createdAt });
    expect(updated.body.vaultKey.updatedAt).not.toBe(read.body.vaultKey.updatedAt);

    const stale = await api(`${F}/vault-key/${vaultId}`, {
      method: 'PUT', token: alice.access_token, body: { ...key(), ifUpdatedAt: read.body.vaultKey.updatedAt },
    });
    expectError(stale, 409, 'conflict');
    expect(stale.body.error.details).toBe('ifUpdatedAt');
    expect((await api(`${F}/vault-key/${vaultId}`, { token: alice.access_token })).body.vaultKey).toEqual(updated.body.vaultKey);
  });

  it('409 when the vault id exists (own or another user\'s)', async () => {
    const vaultId = await createVault(alice);
    expectError(await api(`${F}/vault-key`, { token: alice.access_token, body: { vaultId, ...key() } }), 409, 'conflict');
    expectError(await api(`${F}/vault-key`, { token: bob.access_token, body: { vaultId, ...key() } }), 409, 'conflict');
  });

  it('404 for an unknown vault on GET and PUT', async () => {
    const id = randomUUID();
    expectError(await api(`${F}/vault-key/${id}`, { token: alice.access_token }), 404, 'not_found');
    expectError(await api(`${F}/vault-key/${id}`, {
      method: 'PUT', token: alice.access_token, body: { ...key(), ifUpdatedAt: new Date().toISOString() },
    }), 404, 'not_found');
  });
});

describe('vaults, push and pull', () => {
  it('lists vaults with counts, pushes (idempotently), pulls, deletes (204)', async () => {
    const user = await newUser('flow');
    const vaultId = await createVault(user);
    let list = await api(`${F}/vaults`, { token: user.access_token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ vaults: [{ vaultId, createdAt: expect.any(String), updatedAt: expect.any(String), lastSequence: 0, logCount: 0, bytes: 0,
      compactedLogs: 0, compactedThrough: 0, role: 'owner', keyGeneration: 1, keyRotationDue: false }] });

    const logs = [log(1), log(2), log(3, { deviceId: undefined }), log(4, { id: undefined, deviceId: null })];
    const pushed = await api(`${F}/push`, { token: user.access_token, body: { vaultId, logs } });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
    expect(pushed.body.lastSequence).toBe(4);
    expect(pushed.body.logs.map((l: any) => [l.sequence, l.duplicate])).toEqual([[1, false], [2, false], [3, false], [4, false]]);
    expect(pushed.body.logs.slice(0, 3).map((l: any) => l.id)).toEqual(logs.slice(0, 3).map((l) => l.id));
    expect(pushed.body.logs[3].id).toMatch(/^[0-9a-f-]{36}$/);

    const retry = await api(`${F}/push`, { token: user.access_token, body: { vaultId, logs: [logs[1], log(5)] } });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ lastSequence: 5, logs: [
      { id: logs[1]!.id, sequence: 2, duplicate: true }, { id: expect.any(String), sequence: 5, duplicate: false },
    ] });

    const all = await api(`${F}/pull`, { token: user.access_token, body: { vaultId } });
    expect(all.status).toBe(200);
    expect(all.body.hasMore).toBe(false);
    expect(all.body.nextSequence).toBe(5);
    expect(all.body.lastSequence).toBe(5);
    expect(all.body.logs).toHaveLength(5);
    expect(all.body.logs[0]).toEqual({
      id: logs[0]!.id, sequence: 1, encryptedData: logs[0]!.encryptedData, nonce: logs[0]!.nonce,
      // deviceId: the pushing session's device, set by the server (issue 19), not the 'dev-1' sent
      haexTimestamp: logs[0]!.haexTimestamp, deviceId: await deviceIdOf(user), createdAt: expect.any(String), recordKey: null,
      // each log is a whole sync_logs row (pull_logs since 20261202120000), keys in camelCase
      vaultId, authorId: user.id, keyGeneration: 1,
    });
    expect(all.body.logs[2].deviceId).toBe(await deviceIdOf(user));

    const page = await api(`${F}/pull`, { token: user.access_token, body: { vaultId, afterSequence: 1, limit: 2 } });
    expect(page.body.logs.map((l: any) => l.sequence)).toEqual([2, 3]);
    expect(page.body).toMatchObject({ hasMore: true, nextSequence: 3, lastSequence: 5 });
    const end = await api(`${F}/pull`, { token: user.access_token, body: { vaultId, afterSequence: 5 } });
    expect(end.body).toEqual({ logs: [], hasMore: false, nextSequence: 5, lastSequence: 5, compactedThrough: 0 });
    expectError(await api(`${F}/pull`, { token: user.access_token, body: { vaultId, afterSequence: 99 } }), 409, 'cursor_ahead');

    list = await api(`${F}/vaults`, { token: user.access_token });
    expect(list.body.vaults[0]).toMatchObject({ vaultId, lastSequence: 5, logCount: 5 });
    expect(list.body.vaults[0].bytes).toBeGreaterThan(0);

    const del = await api(`${F}/vaults/${vaultId}`, { method: 'DELETE', token: user.access_token });
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();
    expect((await api(`${F}/vaults`, { token: user.access_token })).body).toEqual({ vaults: [] });
    expectError(await api(`${F}/vaults/${vaultId}`, { method: 'DELETE', token: user.access_token }), 404, 'not_found');
    expectError(await api(`${F}/pull`, { token: user.access_token, body: { vaultId, afterSequence: 2 } }), 404, 'not_found');
    expectError(await api(`${F}/push`, { token: user.access_token, body: { vaultId, logs: [log(1)] } }), 404, 'not_found');
  });

  it('accepts uppercase uuids in the path', async () => {
    const vaultId = await createVault(alice);
    expect((await api(`${F}/vault-key/${vaultId.toUpperCase()}`, { token: alice.access_token })).status).toBe(200);
  });
});

describe('errors', () => {
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/vaults'], ['POST', '/vault-key', { vaultId: randomUUID(), ...key() }],
    ['GET', `/vault-key/${randomUUID()}`], ['PUT', `/vault-key/${randomUUID()}`, { ...key(), ifUpdatedAt: new Date().toISOString() }],
    ['DELETE', `/vaults/${randomUUID()}`], ['POST', '/push', { vaultId: randomUUID(), logs: [log(1)] }],
    ['POST', '/pull', { vaultId: randomUUID() }], ['POST', '/compact', { vaultId: randomUUID() }],
  ];

  it.each(routes)('401 on %s %s without a token, with the anon key, an expired or a forged token', async (method, p, body) => {
    const tokens: Array<string | undefined> = [undefined, stack.ANON_KEY, stack.SERVICE_ROLE_KEY, expiredTokenFor(alice), forgedTokenFor(alice), 'garbage'];
    for (const token of tokens) {
      const res = await api(`${F}${p}`, { method, token, body });
      expectError(res, 401);
    }
  });

  it('404 for unknown routes, 405 with Allow for known routes with another method', async () => {
    for (const p of ['/nope', '/vaults/x/y', '/push/extra', '/vault-key/a/b']) {
      expectError(await api(`${F}${p}`, { token: alice.access_token }), 404, 'not_found');
    }
    const cases: Array<[string, string, string]> = [
      ['DELETE', '/push', 'POST'], ['GET', '/pull', 'POST'], ['POST', '/vaults', 'GET'], ['PATCH', `/vault-key/${randomUUID()}`, 'GET, PUT'],
      ['GET', '/vault-key', 'POST'], ['POST', `/vaults/${randomUUID()}`, 'DELETE'], ['POST', '/', 'GET'],
    ];
    for (const [method, p, allow] of cases) {
      const res = await api(`${F}${p}`, { method, token: alice.access_token });
      expectError(res, 405, 'method_not_allowed');
      expect(res.headers.get('allow')).toBe(`${allow}, OPTIONS`);
    }
  });

  it('413 for a body over SYNC_MAX_BODY_BYTES, by Content-Length and when streamed', async () => {
    const big = JSON.stringify({ vaultId: randomUUID(), logs: [log(1, { encryptedData: 'A'.repeat(21 * 1024 * 1024) })] });
    const res = await api(`${F}/push`, { token: alice.access_token, rawBody: big, headers: { 'content-type': 'application/json' } });
    expectError(res, 413, 'payload_too_large');
    // Chunked: no Content-Length, so the function must count while reading.
    const chunk = new TextEncoder().encode('A'.repeat(1024 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 22) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await fetch(`${stack.API_URL}${F}/push`, {
      method: 'POST', body: stream, duplex: 'half',
      headers: { authorization: `Bearer ${alice.access_token}`, apikey: stack.ANON_KEY, 'content-type': 'application/json' },
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await streamed.json()).error.code).toBe('payload_too_large');
  });

  it('415 for a body that is not application/json', async () => {
    for (const [method, p] of [['POST', '/push'], ['POST', '/pull'], ['POST', '/vault-key'], ['PUT', `/vault-key/${randomUUID()}`]] as const) {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
        const res = await api(`${F}${p}`, { method, token: alice.access_token, rawBody: '{}', headers: type ? { 'content-type': type } : {} });
        expectError(res, 415, 'unsupported_media_type');
      }
    }
    const ok = await api(`${F}/pull`, { token: alice.access_token, rawBody: JSON.stringify({ vaultId: randomUUID() }), headers: { 'content-type': 'Application/JSON; charset=utf-8' } });
    expectError(ok, 404, 'not_found'); // got past the content-type check (to the database: an unknown vault)
  });
});

describe('isolation between users', () => {
  it('bob cannot see or change alice\'s vault on any route; alice\'s data is unchanged', async () => {
    const vaultId = await createVault(alice);
    await api(`${F}/push`, { token: alice.access_token, body: { vaultId, logs: [log(1), log(2)] } });
    const sql = adminSql();
    const snapshot = async () => ({
      vault: await sql`select * from public.vaults where id = ${vaultId}`,
      keys: await sql`select * from public.vault_keys where vault_id = ${vaultId}`,
      logs: await sql`select * from public.sync_logs where vault_id = ${vaultId} order by sequence`,
    });
    const before = await snapshot();
    const b = bob.access_token;
    expectError(await api(`${F}/vault-key/${vaultId}`, { token: b }), 404, 'not_found');
    expectError(await api(`${F}/vault-key/${vaultId}`, { method: 'PUT', token: b, body: { ...key(), ifUpdatedAt: before.keys[0]!.updated_at.toISOString() } }), 404, 'not_found');
    expectError(await api(`${F}/vaults/${vaultId}`, { method: 'DELETE', token: b }), 404, 'not_found');
    expectError(await api(`${F}/push`, { token: b, body: { vaultId, logs: [log(3)] } }), 404, 'not_found');
    // Pull: 404 exactly as for a vault that does not exist (one read shape: the pull_logs rpc).
    for (const afterSequence of [0, 1, 99]) {
      const res = await api(`${F}/pull`, { token: b, body: { vaultId, afterSequence, limit: 1000 } });
      expectError(res, 404, 'not_found');
      expect((await api(`${F}/pull`, { token: b, body: { vaultId: randomUUID(), afterSequence, limit: 1000 } })).body).toEqual(res.body);
    }
    expectError(await api(`${F}/vault-key`, { token: b, body: { vaultId, ...key() } }), 409, 'conflict');
    const list = await api(`${F}/vaults`, { token: b });
    expect(list.body.vaults.map((v: any) => v.vaultId)).not.toContain(vaultId);
    expect(await snapshot()).toEqual(before);
    // And alice still sees everything.
    expect((await api(`${F}/pull`, { token: alice.access_token, body: { vaultId } })).body.logs).toHaveLength(2);
  });
});

describe('CORS', () => {
  it('answers preflights with 204 and the CORS headers (default CORS_ORIGIN=*) on any route', async () => {
    for (const p of ['/push', '/vault-key/abc', '/nope', '']) {
      const res = await api(`${F}${p}`, { method: 'OPTIONS', apikey: null, headers: {
        origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type',
      } });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization.*apikey.*content-type|authorization/);
    }
  });

  it('puts the CORS headers on successes and errors', async () => {
    const origin = { origin: 'https://app.example' };
    for (const res of [
      await api(`${F}/vaults`, { token: alice.access_token, headers: origin }),
      await api(`${F}/nope`, { token: alice.access_token, headers: origin }),
      await api(`${F}/pull`, { token: alice.access_token, body: { bad: 1 }, headers: origin }),
      await api(`${F}/vaults`, { method: 'POST', token: alice.access_token, headers: origin }),
      await api(`${F}/vaults`, { token: stack.ANON_KEY, headers: origin }),
    ]) {
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    }
  });
});
