/**
 * Devices over HTTP (issue 19): the `sync` function's /devices routes through the gateway, and a
 * revoked device's or signed-out session's still-valid token on every route of the function
 * (401 `session_revoked` on its very next request), bad input, and another user's device.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureUser, type StackUser } from '../stack/users.ts';
import { authHttp } from './support/auth.ts';
import { adminSql, api, newUser, stack } from './support/stack.ts';

const F = '/functions/v1/sync';
const b64 = (n: number) => randomBytes(n).toString('base64');
const key = () => ({ encryptedVaultKey: b64(60), salt: b64(32), nonce: b64(12) });
const log = () => ({ id: randomUUID(), encryptedData: b64(48), nonce: b64(12), haexTimestamp: `${Date.now()}`, deviceId: 'claimed' });

const anotherSession = (user: StackUser) => ensureUser(stack.DB_URL, user.email, {
  jwtSecret: stack.JWT_SECRET, signingKeys: stack.SIGNING_KEYS, apiUrl: stack.API_URL, expiresInSeconds: stack.JWT_EXPIRY,
});

interface Device { id: string; name: string | null; createdAt: string; lastSeenAt: string; current: boolean; revokedAt: string | null }

async function register(user: StackUser, name?: string | null): Promise<Device> {
  const res = await api(`${F}/devices`, { token: user.access_token, body: name === undefined ? {} : { name } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.device;
}

async function createVault(user: StackUser) {
  const vaultId = randomUUID();
  const res = await api(`${F}/vault-key`, { token: user.access_token, body: { vaultId, ...key() } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return vaultId;
}

/** Every route of the function that needs a user, each one request with `token`: status and code. */
async function everyRoute(token: string, vaultId: string, deviceId: string) {
  const routes: Array<[string, string, unknown?]> = [
    ['POST', '/vault-key', { vaultId: randomUUID(), ...key() }],
    ['GET', `/vault-key/${vaultId}`],
    ['PUT', `/vault-key/${vaultId}`, { ...key(), ifUpdatedAt: new Date().toISOString() }],
    ['GET', '/vaults'],
    ['POST', '/push', { vaultId, logs: [log()] }],
    ['POST', '/pull', { vaultId, afterSequence: 0, limit: 10 }],
    ['POST', '/pull', { vaultId: randomUUID() }],
    ['POST', '/compact', { vaultId }],
    ['POST', '/devices', { name: 'again' }],
    ['GET', '/devices'],
    ['DELETE', `/devices/${deviceId}`],
    ['DELETE', `/vaults/${vaultId}`],
  ];
  const out: Record<string, string> = {};
  for (const [method, path, body] of routes) {
    const res = await api(`${F}${path}`, { method, token, body });
    out[`${method} ${path}${body && path === '/pull' ? ` ${(body as { vaultId: string }).vaultId === vaultId ? 'own' : 'unknown'}` : ''}`] =
      `${res.status} ${res.body?.error?.code}`;
  }
  return out;
}
const allRevoked = (answers: Record<string, string>) => Object.fromEntries(Object.keys(answers).map((k) => [k, '401 session_revoked']));

describe('/devices', () => {
  let laptop: StackUser;
  let phone: StackUser;

  beforeAll(async () => {
    laptop = await newUser('http-devices');
    phone = await anotherSession(laptop);
  });

  it('POST registers this session (idempotent; a name renames, null keeps it), GET lists the user\'s devices', async () => {
    const first = await register(laptop, 'laptop');
    expect(first).toEqual({ id: expect.any(String), name: 'laptop', createdAt: expect.any(String), lastSeenAt: expect.any(String),
      current: true, revokedAt: null });
    expect(await register(laptop, null)).toEqual(first);
    expect((await register(laptop, 'work laptop')).name).toBe('work laptop');
    const phoneDevice = await register(phone, 'phone');
    const list = await api(`${F}/devices`, { token: phone.access_token });
    expect(list.status).toBe(200);
    expect(list.body.devices.map((d: Device) => [d.id, d.name, d.current])).toEqual([
      [first.id, 'work laptop', false], [phoneDevice.id, 'phone', true],
    ]);
  });

  it('bad input: 400 naming the field; an unknown or other user\'s device id is 404', async () => {
    const bad = async (res: Promise<{ status: number; body: any }>, status: number, code: string, message: RegExp) => {
      const r = await res;
      expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
      expect(r.body.error.message).toMatch(message);
    };
    await bad(api(`${F}/devices`, { token: laptop.access_token, body: { name: '' } }), 400, 'bad_request', /^name: /);
    await bad(api(`${F}/devices`, { token: laptop.access_token, body: { name: 'x'.repeat(129) } }), 400, 'bad_request', /^name: /);
    await bad(api(`${F}/devices`, { token: laptop.access_token, body: { name: 'a', extra: 1 } }), 400, 'bad_request', /^extra: unknown field/);
    await bad(api(`${F}/devices/not-a-uuid`, { method: 'DELETE', token: laptop.access_token }), 400, 'bad_request', /^deviceId \(path\)/);
    const stranger = await newUser('stranger');
    const strangerDevice = await register(stranger, 'theirs');
    await bad(api(`${F}/devices/${strangerDevice.id}`, { method: 'DELETE', token: laptop.access_token }), 404, 'not_found', /device not found/);
    await bad(api(`${F}/devices/${randomUUID()}`, { method: 'DELETE', token: laptop.access_token }), 404, 'not_found', /device not found/);
    expect((await api(`${F}/vaults`, { token: stranger.access_token })).status).toBe(200);
  });

  it('a push\'s device is the session\'s, not the deviceId it claims', async () => {
    const vaultId = await createVault(laptop);
    const phoneDevice = await register(phone);
    const push = await api(`${F}/push`, { token: phone.access_token, body: { vaultId, logs: [log()] } });
    expect(push.status).toBe(200);
    const pull = await api(`${F}/pull`, { token: laptop.access_token, body: { vaultId } });
    expect(pull.body.logs.map((l: { deviceId: string }) => l.deviceId)).toEqual([phoneDevice.id]);
  });
});

describe('a revoked device over HTTP', () => {
  it('gets 401 session_revoked on its very next request to every route; its refresh fails; the other device goes on', async () => {
    const laptop = await newUser('http-revoke');
    const phone = await anotherSession(laptop);
    const vaultId = await createVault(laptop);
    const phoneDevice = await register(phone, 'phone');
    const laptopDevice = await register(laptop, 'laptop');
    expect((await api(`${F}/vaults`, { token: phone.access_token })).status).toBe(200);

    const revoke = await api(`${F}/devices/${phoneDevice.id}`, { method: 'DELETE', token: laptop.access_token });
    expect(revoke.status).toBe(204);
    const answers = await everyRoute(phone.access_token, vaultId, laptopDevice.id);
    expect(answers).toEqual(allRevoked(answers));

    const refreshed = await authHttp('/token?grant_type=refresh_token', { body: { refresh_token: phone.refresh_token } });
    expect(refreshed.status).toBe(400);
    expect((await api(`${F}/vaults`, { token: laptop.access_token })).status).toBe(200);
    const [vault] = await adminSql()`select count(*)::int as n from public.vaults where id = ${vaultId}`;
    expect(vault!.n).toBe(1); // the revoked device's DELETE /vaults changed nothing
  });

  it('a signed-out session is refused the same way', async () => {
    const user = await newUser('http-signout');
    const vaultId = await createVault(user);
    const device = await register(user, 'me');
    expect((await authHttp('/logout?scope=local', { method: 'POST', token: user.access_token })).status).toBe(204);
    const answers = await everyRoute(user.access_token, vaultId, device.id);
    expect(answers).toEqual(allRevoked(answers));
  });
});
