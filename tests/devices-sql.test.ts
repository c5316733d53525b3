/**
 * Devices and sessions in the SQL API (issue 19), attacked through the gateway as supabase-js
 * would: a revoked device's and a signed-out session's still-valid tokens on every table and
 * function, reads that match nothing, their refresh tokens, another user's device, a token without
 * a session; and what stays working: the user's other device, service_role. Authorship: a log's
 * device_id is the pushing session's device, whatever the client sends.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureUser, type StackUser } from '../stack/users.ts';
import { authHttp } from './support/auth.ts';
import { b64, createVault, entry, expectError, newKey } from './support/sql-fixtures.ts';
import { adminSql, api, asUser, newUser, rpc, sessionIdOf, signToken, stack } from './support/stack.ts';

/** Another signed-in session (device) of the same user. */
const anotherSession = (user: StackUser) => ensureUser(stack.DB_URL, user.email, {
  jwtSecret: stack.JWT_SECRET, signingKeys: stack.SIGNING_KEYS, apiUrl: stack.API_URL, expiresInSeconds: stack.JWT_EXPIRY,
});

interface Device { id: string; name: string | null; created_at: string; last_seen_at: string; current: boolean; revoked_at: string | null }

async function register(user: StackUser, name?: string): Promise<Device> {
  const res = await rpc('register_device', name === undefined ? {} : { device_name: name }, user.access_token);
  expect(res.status).toBe(200);
  return res.body[0];
}

const listDevices = async (user: StackUser): Promise<Device[]> => {
  const res = await rpc('list_devices', {}, user.access_token);
  expect(res.status).toBe(200);
  return res.body;
};

/** Every table read and function call of the API, each as its own request with `token`. */
function everyRequest(token: string, vaultId: string, deviceId: string) {
  const unknown = randomUUID();
  return [
    ['GET vaults', () => api('/rest/v1/vaults?select=*', { token })],
    ['GET vaults (no match)', () => api(`/rest/v1/vaults?id=eq.${unknown}`, { token })],
    ['GET vault_keys', () => api('/rest/v1/vault_keys?select=*', { token })],
    ['GET sync_logs', () => api(`/rest/v1/sync_logs?vault_id=eq.${vaultId}`, { token })],
    ['GET sync_logs (past the end)', () => api(`/rest/v1/sync_logs?vault_id=eq.${vaultId}&sequence=gt.1000000`, { token })],
    ['GET devices', () => api('/rest/v1/devices?select=*', { token })],
    ['GET devices (no match)', () => api(`/rest/v1/devices?id=eq.${unknown}`, { token })],
    ['create_vault', () => rpc('create_vault', { vault_id: randomUUID(), ...newKey() }, token)],
    ['get_vault_key', () => rpc('get_vault_key', { vault_id: vaultId }, token)],
    ['update_vault_key', () => rpc('update_vault_key', { vault_id: vaultId, ...newKey(), if_updated_at: new Date().toISOString() }, token)],
    ['list_vaults', () => rpc('list_vaults', {}, token)],
    ['push_logs', () => rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, token)],
    ['push_log_columns', () => rpc('push_log_columns', { vault_id: vaultId, ids: [randomUUID()], encrypted_data: [b64(64)],
      nonces: [b64(12)], haex_timestamps: [`${Date.now()}`] }, token)],
    ['pull_logs', () => rpc('pull_logs', { vault_id: vaultId, after_sequence: 0, max_count: 10 }, token)],
    ['pull_logs (unknown vault)', () => rpc('pull_logs', { vault_id: unknown, after_sequence: 0, max_count: 10 }, token)],
    ['pull_page', () => rpc('pull_page', { vault_id: vaultId, after_sequence: 0, max_count: 10 }, token)],
    ['compact_logs', () => rpc('compact_logs', { vault_id: vaultId }, token)],
    ['delete_vault', () => rpc('delete_vault', { vault_id: vaultId }, token)],
    ['register_device', () => rpc('register_device', { device_name: 'again' }, token)],
    ['list_devices', () => rpc('list_devices', {}, token)],
    ['revoke_device', () => rpc('revoke_device', { device_id: deviceId }, token)],
    // Shared vaults (issue 18) and their chain (issue 24).
    ['GET vault_members', () => api(`/rest/v1/vault_members?vault_id=eq.${vaultId}`, { token })],
    ['GET identities', () => api('/rest/v1/identities?select=*', { token })],
    ['GET identity_private_keys', () => api('/rest/v1/identity_private_keys?select=*', { token })],
    ['GET vault_key_grants', () => api(`/rest/v1/vault_key_grants?vault_id=eq.${vaultId}`, { token })],
    ['GET vault_chain_links', () => api(`/rest/v1/vault_chain_links?vault_id=eq.${vaultId}`, { token })],
    ['GET vault_invitations', () => api('/rest/v1/vault_invitations?select=*', { token })],
    ['GET vault_invite_links', () => api('/rest/v1/vault_invite_links?select=*', { token })],
    ['create_identity', () => rpc('create_identity', { encryption_public_key: b64(32), signing_public_key: b64(32), signature: b64(64),
      encrypted_private_keys: b64(200), salt: b64(16), nonce: b64(12) }, token)],
    ['get_identity', () => rpc('get_identity', {}, token)],
    ['find_identity', () => rpc('find_identity', { email: 'nobody@test.haex.local' }, token)],
    ['list_vault_members', () => rpc('list_vault_members', { vault_id: vaultId }, token)],
    ['invite_member', () => rpc('invite_member', { vault_id: vaultId, invitee_id: unknown, role: 'reader', key_generation: 1,
      grants: [{ key_generation: 1, ...sealedGrant() }] }, token)],
    ['list_invitations', () => rpc('list_invitations', {}, token)],
    ['accept_invitation', () => rpc('accept_invitation', { invitation_id: unknown }, token)],
    ['decline_invitation', () => rpc('decline_invitation', { invitation_id: unknown }, token)],
    ['set_member_role', () => rpc('set_member_role', { vault_id: vaultId, user_id: unknown, role: 'reader' }, token)],
    ['remove_member', () => rpc('remove_member', { vault_id: vaultId, user_id: unknown }, token)],
    ['leave_vault', () => rpc('leave_vault', { vault_id: vaultId }, token)],
    ['rotate_vault_key', () => rpc('rotate_vault_key', { vault_id: vaultId, replaces_generation: 1,
      grants: [{ recipient_id: unknown, ...sealedGrant() }] }, token)],
    ['create_invite_link', () => rpc('create_invite_link', { vault_id: vaultId, token: 'a'.repeat(22), role: 'reader',
      key_generation: 1, grants: [{ key_generation: 1, ...sealedGrant() }] }, token)],
    ['claim_invite_link', () => rpc('claim_invite_link', { token: 'a'.repeat(22) }, token)],
    ['store_own_grants', () => rpc('store_own_grants', { vault_id: vaultId, grants: [{ key_generation: 1, ...sealedGrant() }] }, token)],
    ['list_key_grants', () => rpc('list_key_grants', { vault_id: vaultId }, token)],
    ['append_chain_link', () => rpc('append_chain_link', { vault_id: vaultId, body: '{}', signature: b64(64) }, token)],
    ['list_chain_links', () => rpc('list_chain_links', { vault_id: vaultId }, token)],
    // Files and quotas (issue 26); the two quota setters are the service role's, refused before that.
    ['GET vault_files', () => api(`/rest/v1/vault_files?vault_id=eq.${vaultId}`, { token })],
    ['register_file', () => rpc('register_file', { vault_id: vaultId, file_id: unknown, size: 1, chunk_count: 1 }, token)],
    ['forget_file', () => rpc('forget_file', { vault_id: vaultId, file_id: unknown }, token)],
    ['check_vault_quota', () => rpc('check_vault_quota', { vault_id: vaultId, bytes: 1 }, token)],
    ['list_vault_usage', () => rpc('list_vault_usage', {}, token)],
    ['prepare_vault_deletion', () => rpc('prepare_vault_deletion', { vault_id: vaultId }, token)],
    ['set_vault_quota', () => rpc('set_vault_quota', { vault_id: vaultId, quota_bytes: 1 }, token)],
    ['set_default_vault_quota', () => rpc('set_default_vault_quota', { quota_bytes: 1 }, token)],
  ] as const;
}
const sealedGrant = () => ({ ephemeral_public_key: b64(32), nonce: b64(12), sealed_key: b64(48), signature: b64(64) });

/** Runs every request with `token`: each one's status, code and hint. */
async function attackAll(token: string, vaultId: string, deviceId: string) {
  const out: Record<string, string> = {};
  for (const [name, request] of everyRequest(token, vaultId, deviceId)) {
    const res = await request();
    out[name] = `${res.status} ${res.body?.code} ${res.body?.hint}`;
  }
  return out;
}

const REVOKED = '401 PT401 session_revoked';
const allRefused = (code = REVOKED) => Object.fromEntries(everyRequest('', randomUUID(), randomUUID()).map(([name]) => [name, code]));

/** What the superuser sees of a user's vault and devices (nothing may change under attack). */
async function snapshot(userId: string) {
  const [state] = await adminSql()`select
    (select jsonb_agg(to_jsonb(v) order by v.id) from public.vaults v where v.owner_id = ${userId}) as vaults,
    (select jsonb_agg(to_jsonb(k) order by k.vault_id) from public.vault_keys k where k.user_id = ${userId}) as keys,
    (select count(*)::int from public.sync_logs l where l.author_id = ${userId}) as logs,
    (select jsonb_agg(jsonb_build_object('id', d.id, 'revoked', d.revoked_at is not null) order by d.id)
       from public.devices d where d.user_id = ${userId}) as devices`;
  return state!;
}

describe('the attack list', () => {
  it('covers every table and function of the public API (the catalog says which)', async () => {
    const names = new Set(everyRequest('', randomUUID(), randomUUID()).map(([name]) => name.startsWith('GET ')
      ? name.slice(4).split(' ')[0]! : name));
    const catalog = await adminSql()`select p.proname as name from pg_proc p where p.pronamespace = 'public'::regnamespace
      union select c.relname from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'`;
    expect(catalog.map((r) => r.name).filter((n) => !names.has(n)).sort()).toEqual([]);
  });
});

describe('a revoked device', () => {
  let laptop: StackUser;
  let phone: StackUser;
  let vaultId: string;
  let phoneDevice: Device;
  let laptopDevice: Device;

  beforeAll(async () => {
    laptop = await newUser('devices');
    phone = await anotherSession(laptop);
    ({ vault_id: vaultId } = await createVault(laptop));
    expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, phone.access_token)).status).toBe(200);
    laptopDevice = await register(laptop, 'laptop');
    phoneDevice = await register(phone, 'phone');
  });

  it('is refused on its very next request, on every table and function (401 session_revoked), and changes nothing', async () => {
    // Before: the phone's token works (a read matching nothing answers 200 []).
    expect((await api(`/rest/v1/vaults?id=eq.${randomUUID()}`, { token: phone.access_token })).status).toBe(200);
    const revoke = await rpc('revoke_device', { device_id: phoneDevice.id }, laptop.access_token);
    expect(revoke.status).toBe(204);
    const before = await snapshot(laptop.id);
    expect(await attackAll(phone.access_token, vaultId, laptopDevice.id)).toEqual(allRefused());
    expect(await snapshot(laptop.id)).toEqual(before);
  });

  it('cannot refresh: its Auth session is gone', async () => {
    const refreshed = await authHttp('/token?grant_type=refresh_token', { body: { refresh_token: phone.refresh_token } });
    expect({ status: refreshed.status, code: refreshed.body.code }).toEqual({ status: 400, code: 'refresh_token_not_found' });
    const [row] = await adminSql()`select count(*)::int as n from auth.sessions where id = ${sessionIdOf(phone)}`;
    expect(row!.n).toBe(0);
  });

  it('leaves the user\'s other device working, and is listed with revoked_at', async () => {
    const devices = await listDevices(laptop);
    expect(devices.map((d) => ({ id: d.id, name: d.name, current: d.current, revoked: d.revoked_at !== null }))).toEqual([
      // Oldest first: the phone registered with its first push, before the laptop.
      { id: phoneDevice.id, name: 'phone', current: false, revoked: true },
      { id: laptopDevice.id, name: 'laptop', current: true, revoked: false },
    ]);
    expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, laptop.access_token)).status).toBe(200);
  });

  it('stays revoked when revoked again (204, revoked_at unchanged)', async () => {
    const [before] = await adminSql()`select revoked_at from public.devices where id = ${phoneDevice.id}`;
    expect((await rpc('revoke_device', { device_id: phoneDevice.id }, laptop.access_token)).status).toBe(204);
    const [after] = await adminSql()`select revoked_at from public.devices where id = ${phoneDevice.id}`;
    expect(after!.revoked_at).toEqual(before!.revoked_at);
  });

  it('is refused in SQL too, where no pre-request hook runs (as Realtime and direct connections see it)', async () => {
    const code = await asUser(phone, async (sql) => {
      try {
        await sql`select count(*) from public.vaults`;
        return 'ok';
      } catch (error: any) {
        return `${error.code} ${error.hint}`;
      }
    });
    expect(code).toBe('PT401 session_revoked');
  });
});

describe('revoking', () => {
  it('another user\'s device: 404, and that device keeps working', async () => {
    const [mallory, victim] = await Promise.all([newUser('mallory'), newUser('victim')]);
    const victimDevice = await register(victim, 'victim laptop');
    expectError(await rpc('revoke_device', { device_id: victimDevice.id }, mallory.access_token), 404, 'PT404', 'device_id');
    expectError(await rpc('revoke_device', { device_id: randomUUID() }, mallory.access_token), 404, 'PT404', 'device_id');
    expect((await rpc('list_vaults', {}, victim.access_token)).status).toBe(200);
    expect((await listDevices(victim))[0]!.revoked_at).toBeNull();
  });

  it('its own current device: allowed, and this very token is refused from then on', async () => {
    const user = await newUser('self');
    const device = await register(user, 'me');
    expect((await rpc('revoke_device', { device_id: device.id }, user.access_token)).status).toBe(204);
    expectError(await rpc('list_vaults', {}, user.access_token), 401, 'PT401', 'authorization');
  });

  it('bad input: null device_id is 400 naming the field', async () => {
    const user = await newUser('bad');
    expectError(await rpc('revoke_device', { device_id: null }, user.access_token), 400, 'PT400', 'device_id');
    expectError(await rpc('register_device', { device_name: '' }, user.access_token), 400, 'PT400', 'device_name');
    expectError(await rpc('register_device', { device_name: 'x'.repeat(129) }, user.access_token), 400, 'PT400', 'device_name');
  });
});

describe('a signed-out session', () => {
  it('is refused at once like a revoked device, and listed as revoked', async () => {
    const desk = await newUser('signout');
    const tablet = await anotherSession(desk);
    const { vault_id: vaultId } = await createVault(desk);
    const tabletDevice = await register(tablet, 'tablet');
    const logout = await authHttp('/logout?scope=local', { method: 'POST', token: tablet.access_token });
    expect(logout.status).toBe(204);
    expect(await attackAll(tablet.access_token, vaultId, tabletDevice.id)).toEqual(allRefused());
    const listed = (await listDevices(desk)).find((d) => d.id === tabletDevice.id)!;
    expect(listed.revoked_at).not.toBeNull();
  });
});

describe('tokens without a live session', () => {
  it('a token without session_id (not issued by the project\'s Auth) passes to RLS as that user; one naming another user\'s session, or a malformed one, is refused', async () => {
    const [user, other] = await Promise.all([newUser('nosession'), newUser('other')]);
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: user.id, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 600 };
    const { vault_id: vaultId } = await createVault(user);
    const { vault_id: othersVault } = await createVault(other);
    const foreign = signToken(base);
    // RLS decides, exactly as for a session token: the user's own vault, nothing of another's.
    const own = await api('/rest/v1/vaults?select=id', { token: foreign });
    expect([own.status, own.body]).toEqual([200, [{ id: vaultId }]]);
    expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, foreign)).status).toBe(200);
    expectError(await rpc('pull_logs', { vault_id: othersVault, after_sequence: 0, max_count: 10 }, foreign), 404, 'PT404');
    // Its pushes carry no device (it has no Auth session).
    const [log] = await adminSql()`select device_id from public.sync_logs where vault_id = ${vaultId}`;
    expect(log!.device_id).toBeNull();
    expect(await attackAll(signToken({ ...base, session_id: sessionIdOf(other) }), vaultId, randomUUID())).toEqual(allRefused());
    expect(await attackAll(signToken({ ...base, session_id: 'not-a-uuid' }), vaultId, randomUUID()))
      .toEqual(allRefused('401 PT401 session_required'));
  });

  it('service_role has no session and is not refused', async () => {
    const res = await api('/rest/v1/devices?select=id&limit=1', { apikey: stack.SERVICE_ROLE_KEY, token: stack.SERVICE_ROLE_KEY });
    expect(res.status).toBe(200);
  });
});

describe('authorship', () => {
  it('a log\'s device_id is the pushing session\'s device, whatever the client sends', async () => {
    const laptop = await newUser('author');
    const phone = await anotherSession(laptop);
    const { vault_id: vaultId } = await createVault(laptop);
    const phoneDevice = await register(phone, 'phone');
    const laptopDevice = await register(laptop, 'laptop');
    // The phone claims to be the laptop; a duplicate in the batch takes the exact path too.
    const first = entry({ device_id: laptopDevice.id });
    expect((await rpc('push_logs', { vault_id: vaultId, logs: [first] }, phone.access_token)).status).toBe(200);
    expect((await rpc('push_logs', { vault_id: vaultId, logs: [first, entry({ device_id: 'x' })] }, phone.access_token)).status).toBe(200);
    expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry({ device_id: null })] }, laptop.access_token)).status).toBe(200);
    const logs = await adminSql()`select sequence::int, device_id from public.sync_logs where vault_id = ${vaultId} order by sequence`;
    expect(logs).toEqual([
      { sequence: 1, device_id: phoneDevice.id }, { sequence: 2, device_id: phoneDevice.id }, { sequence: 3, device_id: laptopDevice.id },
    ]);
  });

  it('a session\'s first push registers its device (no name); register_device then names it', async () => {
    const user = await newUser('firstpush');
    const { vault_id: vaultId } = await createVault(user);
    expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, user.access_token)).status).toBe(200);
    const [device] = await listDevices(user);
    expect({ name: device!.name, current: device!.current }).toEqual({ name: null, current: true });
    const named = await register(user, 'named later');
    expect({ id: named.id, name: named.name }).toEqual({ id: device!.id, name: 'named later' });
    expect((await register(user)).name).toBe('named later');
  });
});

describe('many requests of one new session at once', () => {
  it('register one device: concurrent first pushes and registrations agree on its id', async () => {
    const user = await newUser('concurrent');
    const vaults = await Promise.all(Array.from({ length: 4 }, () => createVault(user)));
    const answers = await Promise.all([
      ...vaults.flatMap(({ vault_id }) => [1, 2].map(() => rpc('push_logs', { vault_id, logs: [entry()] }, user.access_token))),
      ...Array.from({ length: 4 }, () => rpc('register_device', {}, user.access_token)),
    ]);
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    const devices = await adminSql()`select id from public.devices where session_id = ${sessionIdOf(user)}`;
    expect(devices).toHaveLength(1);
    const logs = await adminSql()`select distinct device_id from public.sync_logs where author_id = ${user.id}`;
    expect(logs.map((l) => l.device_id)).toEqual([devices[0]!.id]);
    expect(new Set(answers.slice(8).map((a) => a.body[0].id))).toEqual(new Set([devices[0]!.id]));
  });
});

describe('last_seen_at', () => {
  it('moves on a push only when a minute old', async () => {
    const user = await newUser('seen');
    const { vault_id: vaultId } = await createVault(user);
    const device = await register(user, 'seen');
    const push = () => rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, user.access_token);
    const seen = async () => (await adminSql()`select last_seen_at from public.devices where id = ${device.id}`)[0]!.last_seen_at as Date;
    await adminSql()`update public.devices set last_seen_at = now() - interval '30 seconds' where id = ${device.id}`;
    const fresh = await seen();
    expect((await push()).status).toBe(200);
    expect(await seen()).toEqual(fresh);
    await adminSql()`update public.devices set last_seen_at = now() - interval '61 seconds' where id = ${device.id}`;
    const stale = await seen();
    expect((await push()).status).toBe(200);
    expect((await seen()).getTime()).toBeGreaterThan(stale.getTime() + 60_000);
  });
});
