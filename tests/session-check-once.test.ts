/**
 * The session check once per transaction (issue 25, item 2): private.caller_id() keeps a passing
 * check in the transaction-local setting haex_sync.checked_session, keyed by uid and session_id, so
 * that PostgREST's pre-request hook pays the lookup and the request's functions and policies do not
 * pay it again. Attacked here: the kept verdict must never outlive its transaction (a pooled
 * connection's next request), never serve another user or another session in the same transaction,
 * never outlive a revocation made in the same transaction, and never be writable through the API.
 */
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { createVault, entry, expectError } from './support/sql-fixtures.ts';
import { adminSql, api, asUser, newUser, rpc, sessionIdOf, stack } from './support/stack.ts';

const claimsOf = (user: StackUser, sessionId = sessionIdOf(user)) =>
  JSON.stringify({ sub: user.id, role: 'authenticated', aud: 'authenticated', session_id: sessionId });

/**
 * private.caller_id() under these claims in `sql`'s transaction: the uid, or "<code> <hint>" of its
 * refusal. In a savepoint, so that a refusal does not end the transaction (a passing check's
 * setting survives the savepoint's release, as it survives a function's exit).
 */
async function callerId(sql: postgres.TransactionSql, claims: string): Promise<string> {
  try {
    return await sql.savepoint(async (sp) => {
      await sp`select set_config('request.jwt.claims', ${claims}, true)`;
      const [row] = await sp`select private.caller_id() as uid`;
      return row!.uid as string;
    });
  } catch (error: any) {
    return `${error.code} ${error.hint}`;
  }
}

/** Index and sequential scans of auth.sessions and public.devices so far in this transaction. */
async function lookups(sql: postgres.TransactionSql): Promise<number> {
  const [row] = await sql`select coalesce(sum(coalesce(idx_scan, 0) + seq_scan), 0)::int as n from pg_stat_xact_all_tables
                          where relid in ('auth.sessions'::regclass, 'public.devices'::regclass)`;
  return row!.n;
}

const endSession = (user: StackUser) => adminSql()`delete from auth.sessions where id = ${sessionIdOf(user)}`;
const REVOKED = 'PT401 session_revoked';

describe('the session check is paid once per transaction', () => {
  it('a second check of the same session in the same transaction reads neither auth.sessions nor devices', async () => {
    const user = await newUser('once');
    const { vault_id: vaultId } = await createVault(user);
    const reads = await asUser(user, async (sql) => {
      const before = await lookups(sql);
      await sql`select private.caller_id()`;
      const afterFirst = await lookups(sql);
      await sql`select private.caller_id()`;
      await sql`select id from public.vaults where id = ${vaultId}`; // the policy's caller_id()
      await sql`select public.pull_page(${vaultId}, 0, 10)`;
      return [afterFirst - before, (await lookups(sql)) - afterFirst];
    });
    expect(reads).toEqual([2, 0]); // the first: one probe of each table
  });
});

describe('the kept verdict is never reused for anyone else', () => {
  let alice: StackUser;
  let bob: StackUser;
  let gone: StackUser;
  beforeAll(async () => {
    [alice, bob, gone] = await Promise.all([newUser('alice'), newUser('bob'), newUser('gone')]);
    await endSession(gone);
  });

  it('another user\'s claims, another session or a swapped uid in the same transaction are checked on their own', async () => {
    const seen = await asUser(alice, async (sql) => [
      await callerId(sql, claimsOf(alice)),
      await callerId(sql, claimsOf(gone)),                        // an ended session of another user
      await callerId(sql, claimsOf(alice)),                       // alice again: still hers
      await callerId(sql, claimsOf(alice, sessionIdOf(gone))),    // alice's uid, an ended session
      await callerId(sql, claimsOf(gone, sessionIdOf(alice))),    // alice's live session, another uid
      await callerId(sql, claimsOf(bob, sessionIdOf(alice))),     // the same with a live user
      await callerId(sql, claimsOf(bob)),
    ]);
    expect(seen).toEqual([alice.id, REVOKED, alice.id, REVOKED, REVOKED, REVOKED, bob.id]);
  });

  it('an ended session is refused after a valid request on the same pooled connection, in SQL and through PostgREST', async () => {
    const one = postgres(stack.DB_URL, { max: 1, onnotice: () => {} });
    try {
      for (let i = 0; i < 3; i++) {
        expect(await one.begin(async (sql) => {
          await sql`select set_config('role', 'authenticated', true)`;
          return callerId(sql, claimsOf(alice));
        })).toBe(alice.id);
        expect(await one.begin(async (sql) => {
          await sql`select set_config('role', 'authenticated', true)`;
          return callerId(sql, claimsOf(gone));
        })).toBe(REVOKED);
      }
    } finally {
      await one.end({ timeout: 5 });
    }
    // PostgREST's pool hands the next request whatever connection the last one left: alternate.
    const { vault_id: vaultId } = await createVault(alice);
    for (let i = 0; i < 10; i++) {
      expect((await api(`/rest/v1/vaults?id=eq.${vaultId}&select=id`, { token: alice.access_token })).body).toEqual([{ id: vaultId }]);
      expectError(await api(`/rest/v1/vaults?id=eq.${randomUUID()}`, { token: gone.access_token }), 401, 'PT401', 'authorization');
      expectError(await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, gone.access_token), 401, 'PT401', 'authorization');
    }
  });
});

describe('the kept verdict never outlives a revocation', () => {
  it('a session deleted between two requests is refused on the next one (same connection and through PostgREST)', async () => {
    const user = await newUser('between');
    const { vault_id: vaultId } = await createVault(user);
    const one = postgres(stack.DB_URL, { max: 1, onnotice: () => {} });
    const asUserOn = () => one.begin(async (sql) => {
      await sql`select set_config('role', 'authenticated', true)`;
      return callerId(sql, claimsOf(user));
    });
    try {
      expect(await asUserOn()).toBe(user.id);
      expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, user.access_token)).status).toBe(200);
      await endSession(user);
      expect(await asUserOn()).toBe(REVOKED);
    } finally {
      await one.end({ timeout: 5 });
    }
    expectError(await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, user.access_token), 401, 'PT401', 'authorization');
    expectError(await api(`/rest/v1/vaults?id=eq.${randomUUID()}`, { token: user.access_token }), 401, 'PT401', 'authorization');
  });

  it('a device revoked inside the transaction is refused by the next check in it', async () => {
    const user = await newUser('self-revoke');
    const device = await rpc('register_device', { device_name: 'me' }, user.access_token);
    expect(device.status).toBe(200);
    const seen = await asUser(user, async (sql) => {
      const first = await callerId(sql, claimsOf(user));
      await sql`select public.revoke_device(${device.body[0].id})`;
      return [first, await callerId(sql, claimsOf(user))];
    });
    expect(seen).toEqual([user.id, REVOKED]);
  });

  it('an admin\'s revocation of the device inside the transaction clears it too', async () => {
    const user = await newUser('admin-revoke');
    const device = await rpc('register_device', { device_name: 'me' }, user.access_token);
    const rollback = new Error('rollback');
    const seen: string[] = [];
    await adminSql().begin(async (sql) => {
      await sql`select set_config('role', 'authenticated', true)`;
      seen.push(await callerId(sql, claimsOf(user)));
      await sql`reset role`;
      await sql`update public.devices set revoked_at = now() where id = ${device.body[0].id}`;
      await sql`select set_config('role', 'authenticated', true)`;
      seen.push(await callerId(sql, claimsOf(user)));
      throw rollback;
    }).catch((error) => { if (error !== rollback) throw error; });
    expect(seen).toEqual([user.id, REVOKED]);
  });
});

describe('the kept verdict cannot be written through the API', () => {
  it('set_config is not callable through PostgREST, and an ended session stays refused whatever a request sends', async () => {
    const [user, live] = await Promise.all([newUser('forger'), newUser('live')]);
    await endSession(user);
    const key = `${user.id} ${sessionIdOf(user)}`;
    const args = { setting_name: 'haex_sync.checked_session', new_value: key, is_local: true };
    for (const token of [live.access_token, user.access_token]) {
      const res = await rpc('set_config', args, token);
      expect([res.status, res.body?.code]).toEqual([404, 'PGRST202']); // PostgREST has no such function for anyone
    }
    const service = await api('/rest/v1/rpc/set_config', { token: stack.SERVICE_ROLE_KEY, apikey: stack.SERVICE_ROLE_KEY,
      body: { setting_name: 'haex_sync.checked_session', new_value: key, is_local: true } });
    expect([service.status, service.body?.code]).toEqual([404, 'PGRST202']);
    expectError(await api(`/rest/v1/vaults?id=eq.${randomUUID()}`, { token: user.access_token,
      headers: { 'haex_sync.checked_session': key, prefer: `haex_sync.checked_session=${key}` } }), 401, 'PT401', 'authorization');
  });
});
