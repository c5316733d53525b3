/**
 * The SQL API's vault functions (create_vault, get_vault_key, update_vault_key, list_vaults,
 * delete_vault): every happy path and every error, through the gateway as supabase-js calls them
 * (`/rest/v1/rpc/<name>` with a user token), asserting the HTTP status PostgREST gives and the
 * SQLSTATE / detail in the body.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { adminSql, api, asUser, newUser, rpc, stack, signToken } from './support/stack.ts';
import { b64, b64chars, createVault, entry, expectError, type KeyRow, newKey, type PushResult, vaultState } from './support/sql-fixtures.ts';

let alice: StackUser;
let bob: StackUser;

beforeAll(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
});

describe('create_vault', () => {
  it('creates the caller\'s vault and key and returns the key row', async () => {
    const vault_id = randomUUID();
    const key = newKey();
    const res = await rpc('create_vault', { vault_id, ...key }, alice.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(1);
    const row = res.body[0];
    expect(row).toMatchObject({ vault_id, ...key });
    expect(Object.keys(row).sort()).toEqual(['created_at', 'encrypted_vault_key', 'nonce', 'salt', 'updated_at', 'vault_id']);
    expect(row.updated_at).toBe(row.created_at);
    const [vault] = await adminSql()`select owner_id, last_sequence::int, bytes::int from public.vaults where id = ${vault_id}`;
    expect(vault).toEqual({ owner_id: alice.id, last_sequence: 0, bytes: 0 });
    const keys = await adminSql()`select user_id from public.vault_keys where vault_id = ${vault_id}`;
    expect(keys.map((k) => k.user_id)).toEqual([alice.id]);
  });

  it('refuses an id that exists, whoever owns it (409 PT409), changing nothing', async () => {
    const { vault_id, key } = await createVault(alice);
    expectError(await rpc('create_vault', { vault_id, ...newKey() }, alice.access_token), 409, 'PT409', 'vault_id');
    expectError(await rpc('create_vault', { vault_id, ...newKey() }, bob.access_token), 409, 'PT409', 'vault_id');
    const [row] = await adminSql()`select owner_id, encrypted_vault_key from public.vaults v join public.vault_keys k on k.vault_id = v.id where v.id = ${vault_id}`;
    expect(row).toEqual({ owner_id: alice.id, encrypted_vault_key: key.encrypted_vault_key });
  });

  it.each([
    ['vault_id null', { vault_id: null }, 'vault_id'],
    ['encrypted_vault_key null', { encrypted_vault_key: null }, 'encrypted_vault_key'],
    ['encrypted_vault_key empty', { encrypted_vault_key: '' }, 'encrypted_vault_key'],
    ['encrypted_vault_key not base64', { encrypted_vault_key: 'not base64!' }, 'encrypted_vault_key'],
    ['encrypted_vault_key unpadded', { encrypted_vault_key: 'AAA' }, 'encrypted_vault_key'],
    ['encrypted_vault_key too long', { encrypted_vault_key: b64chars(4100) }, 'encrypted_vault_key'],
    ['salt empty', { salt: '' }, 'salt'],
    ['salt too long', { salt: b64chars(260) }, 'salt'],
    ['salt not base64', { salt: '%%%%' }, 'salt'],
    ['nonce too long', { nonce: b64chars(68) }, 'nonce'],
    ['nonce null', { nonce: null }, 'nonce'],
  ])('rejects %s with 400 PT400 naming the field, creating nothing', async (_name, override, field) => {
    const vault_id = randomUUID();
    const res = await rpc('create_vault', { vault_id, ...newKey(), ...override }, alice.access_token);
    expectError(res, 400, 'PT400', field);
    expect(res.body.message).toContain(field);
    const rows = await adminSql()`select 1 from public.vaults where id = ${vault_id}`;
    expect(rows).toHaveLength(0);
  });

  it('accepts key fields exactly at their limits', async () => {
    const res = await rpc('create_vault', {
      vault_id: randomUUID(), encrypted_vault_key: b64chars(4096), salt: b64chars(256), nonce: b64chars(64),
    }, alice.access_token);
    expect(res.status).toBe(200);
  });

  it('needs a user: a token without `sub` gets 401 PT401', async () => {
    const noSub = signToken({ role: 'authenticated', aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 });
    expectError(await rpc('create_vault', { vault_id: randomUUID(), ...newKey() }, noSub), 401, 'PT401');
  });
});

describe('get_vault_key', () => {
  it('returns the caller\'s key row', async () => {
    const { vault_id, key } = await createVault(alice);
    const res = await rpc('get_vault_key', { vault_id }, alice.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([{ ...key, key_generation: 1 }]); // the generation the password copy holds
  });

  it('answers an unknown vault and another user\'s vault identically (404 PT404)', async () => {
    const { vault_id } = await createVault(alice);
    const foreign = await rpc('get_vault_key', { vault_id }, bob.access_token);
    const unknown = await rpc('get_vault_key', { vault_id: randomUUID() }, bob.access_token);
    expectError(foreign, 404, 'PT404', 'vault_id');
    expect(foreign.body).toEqual(unknown.body);
  });

  it('rejects a null vault_id (400 PT400)', async () => {
    expectError(await rpc('get_vault_key', { vault_id: null }, alice.access_token), 400, 'PT400', 'vault_id');
  });
});

describe('update_vault_key', () => {
  it('replaces the key when if_updated_at is the stored version, and returns a newer version', async () => {
    const { vault_id, key } = await createVault(alice);
    const next = newKey();
    const res = await rpc('update_vault_key', { vault_id, ...next, if_updated_at: key.updated_at }, alice.access_token);
    expect(res.status).toBe(200);
    const row = res.body[0] as KeyRow;
    expect(row).toMatchObject({ vault_id, ...next, created_at: key.created_at });
    expect(Date.parse(row.updated_at)).toBeGreaterThan(Date.parse(key.updated_at));
    expect((await rpc('get_vault_key', { vault_id }, alice.access_token)).body).toEqual([row]);
  });

  it('accepts the version after a round trip through a JavaScript Date (millisecond precision)', async () => {
    const { vault_id, key } = await createVault(alice);
    const viaDate = new Date(key.updated_at).toISOString();
    const res = await rpc('update_vault_key', { vault_id, ...newKey(), if_updated_at: viaDate }, alice.access_token);
    expect(res.status).toBe(200);
  });

  it('refuses a stale if_updated_at (409 PT409) and keeps the stored key', async () => {
    const { vault_id, key } = await createVault(alice);
    const first = await rpc('update_vault_key', { vault_id, ...newKey(), if_updated_at: key.updated_at }, alice.access_token);
    expect(first.status).toBe(200);
    const stale = await rpc('update_vault_key', { vault_id, ...newKey(), if_updated_at: key.updated_at }, alice.access_token);
    expectError(stale, 409, 'PT409', 'if_updated_at');
    expect((await rpc('get_vault_key', { vault_id }, alice.access_token)).body).toEqual(first.body);
  });

  it('lets exactly one of two concurrent updates from the same version win', async () => {
    const { vault_id, key } = await createVault(alice);
    const results = await Promise.all([0, 1, 2, 3].map(() =>
      rpc('update_vault_key', { vault_id, ...newKey(), if_updated_at: key.updated_at }, alice.access_token)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
  });

  it('answers an unknown vault and another user\'s vault identically (404 PT404), changing nothing', async () => {
    const { vault_id, key } = await createVault(alice);
    const foreign = await rpc('update_vault_key', { vault_id, ...newKey(), if_updated_at: key.updated_at }, bob.access_token);
    const unknown = await rpc('update_vault_key', { vault_id: randomUUID(), ...newKey(), if_updated_at: key.updated_at }, bob.access_token);
    expectError(foreign, 404, 'PT404', 'vault_id');
    expect(foreign.body).toEqual(unknown.body);
    expect((await rpc('get_vault_key', { vault_id }, alice.access_token)).body).toEqual([{ ...key, key_generation: 1 }]);
  });

  it.each([
    ['if_updated_at null', { if_updated_at: null }, 'if_updated_at'],
    ['salt not base64', { salt: 'a b' }, 'salt'],
    ['encrypted_vault_key empty', { encrypted_vault_key: '' }, 'encrypted_vault_key'],
  ])('rejects %s (400 PT400)', async (_name, override, field) => {
    const { vault_id, key } = await createVault(alice);
    const res = await rpc('update_vault_key', { vault_id, ...newKey(), if_updated_at: key.updated_at, ...override }, alice.access_token);
    expectError(res, 400, 'PT400', field);
  });
});

describe('list_vaults', () => {
  it('lists only the caller\'s vaults with log_count and bytes', async () => {
    const carol = await newUser('carol');
    const one = await createVault(carol);
    const two = await createVault(carol);
    await createVault(bob);
    const logs = [entry(), entry({ device_id: undefined }), entry({ haex_timestamp: 'ü-multibyte' })];
    expect((await rpc('push_logs', { vault_id: two.vault_id, logs }, carol.access_token)).status).toBe(200);

    const res = await rpc('list_vaults', {}, carol.access_token);
    expect(res.status).toBe(200);
    const bytes = logs.reduce((sum, l) => sum + Buffer.byteLength(l.encrypted_data) + Buffer.byteLength(l.nonce)
      + Buffer.byteLength(l.haex_timestamp), 0);
    expect(res.body.map((v: any) => [v.vault_id, v.last_sequence, v.log_count, v.bytes])).toEqual([
      [one.vault_id, 0, 0, 0],
      [two.vault_id, 3, 3, bytes],
    ]);
    expect(Object.keys(res.body[0]).sort()).toEqual(['bytes', 'compacted_logs', 'compacted_through', 'created_at',
      'key_generation', 'key_rotation_due', 'last_sequence', 'log_count', 'role', 'updated_at', 'vault_id']);
    expect(res.body.map((v: any) => [v.compacted_logs, v.compacted_through])).toEqual([[0, 0], [0, 0]]);
    // bytes is the documented sum, computed from the stored rows
    const { sum } = (await adminSql()<{ sum: number }[]>`select sum(octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp))::int as sum
                                       from public.sync_logs where vault_id = ${two.vault_id}`)[0]!;
    expect(sum).toBe(bytes);
  });

  it('is empty for a user without vaults', async () => {
    const dave = await newUser('dave');
    const res = await rpc('list_vaults', {}, dave.access_token);
    expect(res).toMatchObject({ status: 200, body: [] });
  });
});

describe('delete_vault', () => {
  it('deletes the vault with its keys and logs', async () => {
    const { vault_id } = await createVault(alice);
    expect((await rpc('push_logs', { vault_id, logs: [entry(), entry()] }, alice.access_token)).status).toBe(200);
    const res = await rpc('delete_vault', { vault_id }, alice.access_token);
    expect(res.status).toBe(204); // PostgREST 12 answers a void function with 204 No Content
    const sql = adminSql();
    const [counts] = await sql`select
      (select count(*)::int from public.vaults where id = ${vault_id}) as vaults,
      (select count(*)::int from public.vault_keys where vault_id = ${vault_id}) as keys,
      (select count(*)::int from public.sync_logs where vault_id = ${vault_id}) as logs`;
    expect(counts).toEqual({ vaults: 0, keys: 0, logs: 0 });
    expectError(await rpc('get_vault_key', { vault_id }, alice.access_token), 404, 'PT404');
    expectError(await rpc('delete_vault', { vault_id }, alice.access_token), 404, 'PT404', 'vault_id');
  });

  it('answers an unknown vault and another user\'s vault identically (404 PT404), deleting nothing', async () => {
    const { vault_id } = await createVault(alice);
    await rpc('push_logs', { vault_id, logs: [entry()] }, alice.access_token);
    const before = await vaultState(vault_id);
    const foreign = await rpc('delete_vault', { vault_id }, bob.access_token);
    const unknown = await rpc('delete_vault', { vault_id: randomUUID() }, bob.access_token);
    expectError(foreign, 404, 'PT404', 'vault_id');
    expect(foreign.body).toEqual(unknown.body);
    expect(await vaultState(vault_id)).toEqual(before);
  });
});

