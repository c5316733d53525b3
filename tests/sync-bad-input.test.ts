/**
 * Edge Function `sync`: the bad-input battery. Every malformed request gets a 4xx JSON error of the
 * documented shape `{ error: { code, message, details? } }` naming the field, never a 5xx, and the
 * database is exactly as before (superuser snapshot of the user's rows before and after). Every bad
 * body is a mutation of a valid body aimed at the user's real vault, so a check that let it through
 * would change the snapshot.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminSql, api, newUser, rpc, stack } from './support/stack.ts';
import type { StackUser } from '../stack/users.ts';
import { deviceIdOf } from './support/sql-fixtures.ts';

const F = '/functions/v1/sync';
const b64 = (n: number) => randomBytes(n).toString('base64');
let user: StackUser;
let vaultId: string;
let updatedAt: string;

const snapshot = async () => {
  const sql = adminSql();
  return {
    vaults: await sql`select * from public.vaults where owner_id = ${user.id} order by id`,
    keys: await sql`select * from public.vault_keys where user_id = ${user.id} order by vault_id`,
    logs: await sql`select * from public.sync_logs where author_id = ${user.id} order by vault_id, sequence`,
  };
};

beforeAll(async () => {
  user = await newUser('battery');
  vaultId = randomUUID();
  const res = await api(`${F}/vault-key`, { token: user.access_token, body: { vaultId, encryptedVaultKey: b64(60), salt: b64(16), nonce: b64(12) } });
  expect(res.status).toBe(201);
  updatedAt = res.body.vaultKey.updatedAt;
  const pushed = await api(`${F}/push`, { token: user.access_token, body: { vaultId, logs: [
    { id: randomUUID(), encryptedData: b64(30), nonce: b64(12), haexTimestamp: 't1' },
  ] } });
  expect(pushed.status).toBe(200);
});

type Json = Record<string, unknown>;
const set = (obj: Json, path: Array<string | number>, value: unknown): Json => {
  const copy = structuredClone(obj);
  let at: any = copy;
  for (const part of path.slice(0, -1)) at = at[part];
  const last = path.at(-1)!;
  if (value === DELETE) delete at[last];
  else at[last] = value;
  return copy;
};
const DELETE = Symbol('delete');

/** The ways each kind of field can be wrong. */
const wrongTypes = [123, 1.5, true, null, [], {}];
const badUuid = ['', 'not-a-uuid', '123', `${randomUUID()}x`, randomUUID().replace(/-/g, ''), '00000000-0000-0000-0000-00000000000g',
  `${randomUUID()}\u0000`, '../../etc/passwd', "' or 1=1 --"];
const badBase64 = (max: number) => ['', 'abc', 'a b=', '====', '!!!!', 'AAAA\u0000AAA', 'ÄÖÜé', '😀😀', 'A'.repeat(max + 4 - (max % 4) || 4).padEnd(max + 4, 'A'), '\ud800AAA'];
const badText = (max: number, min = 1) => [...(min > 0 ? [''] : []), 'x'.repeat(max + 1), 'a\u0000b', '\ud800', 'x\udfff'];

interface Case { name: string; method: string; path: string; body: unknown; field?: string; status?: number; tooLarge?: boolean }
const cases: Case[] = [];
const fieldCases = (route: string, method: string, path: () => string, valid: () => Json,
  fields: Array<[Array<string | number>, unknown[], boolean /* required */]>) => {
  for (const [fieldPath, values, required] of fields) {
    const field = fieldPath.reduce<string>((s, p) => typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p, '');
    const numeric = values.some((v) => typeof v === 'number');
    const all = [...values, ...wrongTypes.filter((v) => !(v === null && field.endsWith('deviceId')) && !(numeric && v === 123))];
    if (required) all.push(DELETE);
    for (const value of all) {
      // A size limit (too many logs, an encryptedData too long) is 413, as push_logs answers it (PT413).
      const tooLarge = (Array.isArray(value) && value.length > 1000) || (typeof value === 'string' && value.length > 524288 && field.endsWith('encryptedData'));
      cases.push({ name: `${route} ${field} = ${value === DELETE ? '(missing)' : JSON.stringify(value)?.slice(0, 40)}`,
        method, path: path(), body: set(valid(), fieldPath, value), field, tooLarge });
    }
  }
  cases.push({ name: `${route} extra top-level field`, method, path: path(), body: { ...valid(), extra: 1 }, field: 'extra' });
  for (const body of [[], null, 'string', 42, [valid()]]) {
    cases.push({ name: `${route} body ${JSON.stringify(body)?.slice(0, 30)}`, method, path: path(), body });
  }
};

const key = () => ({ encryptedVaultKey: b64(60), salt: b64(16), nonce: b64(12) });
const logEntry = () => ({ id: randomUUID(), encryptedData: b64(30), nonce: b64(12), haexTimestamp: 't', deviceId: 'd' });

// Built lazily (vaultId is known only after beforeAll).
function buildCases() {
  fieldCases('create', 'POST', () => '/vault-key', () => ({ vaultId: randomUUID(), ...key() }), [
    [['vaultId'], badUuid, true],
    [['encryptedVaultKey'], badBase64(4096), true],
    [['salt'], badBase64(256), true],
    [['nonce'], badBase64(64), true],
  ]);
  fieldCases('update', 'PUT', () => `/vault-key/${vaultId}`, () => ({ ...key(), ifUpdatedAt: updatedAt }), [
    [['encryptedVaultKey'], badBase64(4096), true],
    [['salt'], badBase64(256), true],
    [['nonce'], badBase64(64), true],
    [['ifUpdatedAt'], ['', 'yesterday', '2026-13-01T00:00:00Z', '2026-11-27', `${updatedAt}\u0000`], true],
  ]);
  fieldCases('push', 'POST', () => '/push', () => ({ vaultId, logs: [logEntry(), logEntry()] }), [
    [['vaultId'], badUuid, true],
    [['logs'], [[], Array.from({ length: 1001 }, logEntry), 'x'], true],
    [['logs', 1], ['x', 1, null, []], false],
    [['logs', 1, 'id'], badUuid, false],
    [['logs', 1, 'encryptedData'], badBase64(524288), true],
    [['logs', 1, 'nonce'], badText(64), true],
    [['logs', 1, 'haexTimestamp'], badText(128), true],
    [['logs', 1, 'deviceId'], badText(128, 0), false],
    [['logs', 1, 'extra'], ['x'], false],
  ]);
  fieldCases('pull', 'POST', () => '/pull', () => ({ vaultId, afterSequence: 0, limit: 10 }), [
    [['vaultId'], badUuid, true],
    [['afterSequence'], [-1, 0.5, '1', 1e20, Number.MAX_SAFE_INTEGER + 2, -0.0001], false],
    [['limit'], [0, -1, 1001, 2.5, '10', 1e9], false],
  ]);
}

const send = (c: { method: string; path: string; body?: unknown; raw?: BodyInit; type?: string }) =>
  fetch(`${stack.API_URL}${F}${c.path}`, {
    method: c.method,
    headers: { authorization: `Bearer ${user.access_token}`, apikey: stack.ANON_KEY, 'content-type': c.type ?? 'application/json' },
    body: c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body)),
  });

async function expectShape(res: Response, status?: number) {
  const text = await res.text();
  const where = `${res.status} ${text.slice(0, 300)}`;
  expect(res.status, where).toBeGreaterThanOrEqual(400);
  expect(res.status, where).toBeLessThan(500);
  if (status) expect(res.status, where).toBe(status);
  expect(res.headers.get('content-type'), where).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(Object.keys(body), where).toEqual(['error']);
  expect(typeof body.error.code, where).toBe('string');
  expect(typeof body.error.message, where).toBe('string');
  expect(Object.keys(body.error).every((k) => ['code', 'message', 'details'].includes(k)), where).toBe(true);
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  return body.error as { code: string; message: string; details?: unknown };
}

describe('bad-input battery', () => {
  it('every malformed body field is a 400 naming the field (413 for a size limit), and nothing changes', async () => {
    buildCases();
    expect(cases.length).toBeGreaterThan(200);
    expect(cases.filter((c) => c.tooLarge).map((c) => c.field)).toEqual(['logs', 'logs[1].encryptedData']); // 1001 logs, one too long
    const before = await snapshot();
    for (const c of cases) {
      const error = await expectShape(await send(c), c.tooLarge ? 413 : 400);
      expect(error.code, c.name).toBe(c.tooLarge ? 'payload_too_large' : 'bad_request');
      if (c.field) expect(error.message, c.name).toMatch(new RegExp(`^${c.field.replace(/[[\].]/g, '\\$&')}(?=[:.[ ]|$)`));
    }
    expect(await snapshot()).toEqual(before);
  });

  it('malformed JSON, wrong encoding and empty bodies are 400 invalid_json', async () => {
    const before = await snapshot();
    const raws: BodyInit[] = ['{', '{"vaultId":', '', '   ', "{'a':1}", '{"a":1}}', 'nul', '\u0000',
      new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), new Uint8Array([0xc3, 0x28])];
    for (const raw of raws) {
      for (const [method, path] of [['POST', '/push'], ['POST', '/pull'], ['POST', '/vault-key'], ['PUT', `/vault-key/${vaultId}`]]) {
        const error = await expectShape(await send({ method: method!, path: path!, raw }), 400);
        expect(error.code).toBe('invalid_json');
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it('wrong content types (415) and huge bodies (413) change nothing', async () => {
    const before = await snapshot();
    const valid = JSON.stringify({ vaultId, logs: [logEntry()] });
    for (const type of ['text/plain', 'application/jsonx', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '']) {
      await expectShape(await send({ method: 'POST', path: '/push', raw: valid, type }), 415);
    }
    await expectShape(await send({ method: 'POST', path: '/push', raw: `{"vaultId":"${vaultId}","logs":[],"pad":"${'x'.repeat(21 * 1024 * 1024)}"}` }), 413);
    // Too large for SQL but within the body cap: 413 naming the field, the status push_logs gives it (PT413).
    const tooLong = { vaultId, logs: [{ ...logEntry(), encryptedData: 'A'.repeat(524292) }] };
    const error = await expectShape(await send({ method: 'POST', path: '/push', body: tooLong }), 413);
    expect(error.message).toMatch(/^logs\[0\]\.encryptedData/);
    const viaRpc = await rpc('push_logs', { vault_id: vaultId, logs: [{ id: randomUUID(), encrypted_data: 'A'.repeat(524292), nonce: b64(12), haex_timestamp: 't', device_id: 'd' }] }, user.access_token);
    expect(viaRpc.status).toBe(413);
    // Over the 16 MiB total per push, every entry within its own limit.
    const total = await expectShape(await send({ method: 'POST', path: '/push',
      body: { vaultId, logs: Array.from({ length: 33 }, () => ({ ...logEntry(), encryptedData: 'A'.repeat(524288) })) } }), 413);
    expect(total.message).toMatch(/^logs: encryptedData must total/);
    expect(await snapshot()).toEqual(before);
  });

  it('path traversal and garbage in :vaultId are 400 or 404 and never reach SQL', async () => {
    const before = await snapshot();
    // (A bare `%2e%2e` segment is a dot segment under WHATWG URL rules: fetch and the gateway resolve it
    // before the function sees the path, so it is not garbage *in* :vaultId.)
    const garbage = ['..%2F..%2Fvaults', '%2e%2e%2f%2e%2e%2fvaults', '..%2f', '%2E%2E%5C', '..%5C..%5C', 'not-a-uuid', `${vaultId}%00`, `${vaultId}%2F..`, '%27%20or%201%3D1--',
      `${vaultId.slice(0, -1)}%ZZ`, '%F0%9F%98%80', `${vaultId}x`, '*', 'null'];
    for (const g of garbage) {
      for (const [method, path, body] of [
        ['GET', `/vault-key/${g}`, undefined], ['PUT', `/vault-key/${g}`, { ...key(), ifUpdatedAt: updatedAt }], ['DELETE', `/vaults/${g}`, undefined],
      ] as const) {
        const res = await send({ method, path, body });
        const error = await expectShape(res);
        expect([400, 404], `${method} ${path}: ${res.status}`).toContain(res.status);
        if (res.status === 400) expect(error.message).toMatch(/vaultId/);
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it('valid unicode is stored and returned exactly in free-text fields', async () => {
    const entry = { ...logEntry(), nonce: 'nönce-😀', haexTimestamp: '2026-11-27T00:00:00Z-ñ-\u4e2d', deviceId: 'gerät-😀' };
    const pushed = await send({ method: 'POST', path: '/push', body: { vaultId, logs: [entry] } });
    expect(pushed.status).toBe(200);
    const { sequence } = (await pushed.json()).logs[0];
    const page = await (await send({ method: 'POST', path: '/pull', body: { vaultId, afterSequence: sequence - 1, limit: 1 } })).json();
    // deviceId is accepted (validated) but the server stores the session's device (issue 19).
    expect(page.logs[0]).toMatchObject({ id: entry.id, nonce: entry.nonce, haexTimestamp: entry.haexTimestamp,
      deviceId: await deviceIdOf(user) });
  });
});
