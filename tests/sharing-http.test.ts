/**
 * Shared vaults through the sync Edge Function (docs/http-api.md "Sharing"): the routes map the SQL
 * rules to HTTP: a reader's push is 403 `forbidden`, a stranger 404 `not_found`, a removed member's
 * still-valid token 404, a push under an older key generation 409 `stale_key_generation`, a stale
 * rotation 409 `generation_changed`, a rotation that leaves out a member 409 `members_changed`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { newMember } from './support/sharing-fixtures.ts';
import { api } from './support/stack.ts';

const F = '/functions/v1/sync';
const b64 = (n: number) => randomBytes(n).toString('base64');
const sealed = () => ({ ephemeralPublicKey: b64(32), nonce: b64(12), sealedKey: b64(48), signature: b64(64) });
const call = (user: StackUser, path: string, method = 'GET', body?: unknown) =>
  api(`${F}${path}`, { method, token: user.access_token, body });
const log = (keyGeneration?: number) => ({
  id: randomUUID(), encryptedData: b64(64), nonce: b64(12), haexTimestamp: `${Date.now()}`,
  ...(keyGeneration === undefined ? {} : { keyGeneration }),
});
const code = (res: { status: number; body: any }) => [res.status, res.body?.error?.code];

let owner: StackUser, reader: StackUser, writer: StackUser, stranger: StackUser;
let vaultId: string;

beforeAll(async () => {
  [owner, reader, writer, stranger] = await Promise.all(['owner', 'reader', 'writer', 'stranger'].map(newMember)) as [StackUser, StackUser, StackUser, StackUser];
  vaultId = randomUUID();
  expect((await call(owner, '/vault-key', 'POST', { vaultId, encryptedVaultKey: b64(60), salt: b64(16), nonce: b64(12) })).status).toBe(201);
  for (const [user, role] of [[reader, 'reader'], [writer, 'writer']] as const) {
    const found = await call(owner, `/identities?email=${encodeURIComponent(user.email)}`);
    expect(found.body.identity.userId).toBe(user.id);
    const invited = await call(owner, `/vaults/${vaultId}/invitations`, 'POST',
      { inviteeId: user.id, role, keyGeneration: 1, grants: [{ keyGeneration: 1, ...sealed() }] });
    expect(invited.status).toBe(201);
    const listed = await call(user, '/invitations');
    expect(listed.body.invitations.map((i: any) => [i.id, i.inviterEmail])).toEqual([[invited.body.invitation.id, owner.email]]);
    const accepted = await call(user, `/invitations/${invited.body.invitation.id}/accept`, 'POST');
    expect(accepted.body).toEqual({ vaultId, role, keyGeneration: 1 });
  }
});

describe('sharing over HTTP', () => {
  it('members list; a reader pushes 403 forbidden; a stranger gets 404 not_found', async () => {
    const members = await call(reader, `/vaults/${vaultId}/members`);
    expect(members.body.members.map((m: any) => [m.userId, m.role])).toEqual([[owner.id, 'owner'], [writer.id, 'writer'], [reader.id, 'reader']]);
    expect(code(await call(reader, '/push', 'POST', { vaultId, logs: [log()] }))).toEqual([403, 'forbidden']);
    expect(code(await call(stranger, '/push', 'POST', { vaultId, logs: [log()] }))).toEqual([404, 'not_found']);
    expect(code(await call(stranger, `/vaults/${vaultId}/members`))).toEqual([404, 'not_found']);
    expect((await call(writer, '/push', 'POST', { vaultId, logs: [log(1)] })).status).toBe(200);
    const pulled = await call(reader, '/pull', 'POST', { vaultId, afterSequence: 0 });
    expect(pulled.body.logs.map((l: any) => l.keyGeneration)).toEqual([1]);
    const vaults = await call(reader, '/vaults');
    expect(vaults.body.vaults.map((v: any) => [v.vaultId, v.role, v.keyGeneration])).toEqual([[vaultId, 'reader', 1]]);
    const grants = await call(reader, `/vaults/${vaultId}/grants`);
    expect(grants.body.grants.map((g: any) => [g.keyGeneration, g.senderId, g.senderSigningPublicKey.length])).toEqual([[1, owner.id, 44]]);
  });

  it('rotation: members_changed, then generation 2; pushes under 1 get stale_key_generation; replaying 1 gets generation_changed', async () => {
    const all = [owner, reader, writer].map((m) => ({ recipientId: m.id, ...sealed() }));
    expect(code(await call(owner, `/vaults/${vaultId}/rotate`, 'POST', { replacesGeneration: 1, grants: all.slice(0, 2) })))
      .toEqual([409, 'members_changed']);
    const rotated = await call(owner, `/vaults/${vaultId}/rotate`, 'POST', { replacesGeneration: 1, grants: all });
    expect([rotated.status, rotated.body]).toEqual([200, { keyGeneration: 2 }]);
    expect(code(await call(writer, '/push', 'POST', { vaultId, logs: [log(1)] }))).toEqual([409, 'stale_key_generation']);
    expect((await call(writer, '/push', 'POST', { vaultId, logs: [log(2)] })).status).toBe(200);
    expect(code(await call(owner, `/vaults/${vaultId}/rotate`, 'POST', { replacesGeneration: 1, grants: all })))
      .toEqual([409, 'generation_changed']);
  });

  it('bad input is 400 naming the field', async () => {
    const good = { inviteeId: stranger.id, role: 'reader', keyGeneration: 1, grants: [{ keyGeneration: 1, ...sealed() }] };
    const named = async (path: string, method: string, body: unknown) => {
      const res = await call(owner, path, method, body);
      return [res.status, res.body?.error?.code, res.body?.error?.message];
    };
    // One bad field at a time: the message names exactly that field.
    for (const [field, value] of [['inviteeId', 'x'], ['role', 'owner'], ['keyGeneration', 0], ['grants', []]] as const) {
      const [status, errorCode, message] = await named(`/vaults/${vaultId}/invitations`, 'POST', { ...good, [field]: value });
      expect([status, errorCode]).toEqual([400, 'bad_request']);
      expect(message).toContain(field);
    }
    const [status, errorCode, message] = await named(`/vaults/${vaultId}/members/not-a-uuid`, 'DELETE', undefined);
    expect([status, errorCode]).toEqual([400, 'bad_request']);
    expect(message).toContain('userId');
  });

  it('the membership chain: members read it, the next link is appended once (409 chain_changed for a stale one), readers sign no changes', async () => {
    const link = (by: StackUser, seq: number, prev: string | null, type: string) =>
      JSON.stringify({ v: 1, vault: vaultId, seq, prev, author: by.id, at: new Date().toISOString(), type });
    expect([(await call(reader, `/vaults/${vaultId}/chain`)).status, (await call(reader, `/vaults/${vaultId}/chain`)).body])
      .toEqual([200, { links: [] }]);
    const first = await call(owner, `/vaults/${vaultId}/chain`, 'POST', { body: link(owner, 0, null, 'create'), signature: b64(64) });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ seq: 0, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(code(await call(owner, `/vaults/${vaultId}/chain`, 'POST', { body: link(owner, 0, null, 'create'), signature: b64(64) })))
      .toEqual([409, 'chain_changed']);
    expect(code(await call(reader, `/vaults/${vaultId}/chain`, 'POST', { body: link(reader, 1, first.body.hash, 'add'), signature: b64(64) })))
      .toEqual([403, 'forbidden']);
    const bad = await call(owner, `/vaults/${vaultId}/chain`, 'POST', { body: link(reader, 1, first.body.hash, 'add'), signature: b64(64) });
    expect([bad.status, bad.body.error.code, bad.body.error.details]).toEqual([400, 'bad_request', 'body']); // author is not the caller
    const read = await call(reader, `/vaults/${vaultId}/chain?afterSeq=-1`);
    expect(read.body.links.map((l: any) => [l.seq, l.hash])).toEqual([[0, first.body.hash]]);
  });

  it('a removed member\'s still-valid token gets 404 at once; set role and leave work', async () => {
    expect((await call(owner, `/vaults/${vaultId}/members/${writer.id}`, 'PUT', { role: 'reader' })).status).toBe(204);
    expect(code(await call(writer, '/push', 'POST', { vaultId, logs: [log(2)] }))).toEqual([403, 'forbidden']);
    expect((await call(owner, `/vaults/${vaultId}/members/${writer.id}`, 'DELETE')).status).toBe(204);
    expect(code(await call(writer, '/pull', 'POST', { vaultId, afterSequence: 0 }))).toEqual([404, 'not_found']);
    expect((await call(reader, `/vaults/${vaultId}/leave`, 'POST')).status).toBe(204);
    expect(code(await call(reader, `/vaults/${vaultId}/members`))).toEqual([404, 'not_found']);
    expect(code(await call(owner, `/vaults/${vaultId}/leave`, 'POST'))).toEqual([403, 'forbidden']);
  });
});
