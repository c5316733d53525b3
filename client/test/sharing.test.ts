/**
 * Shared vaults with the client library against the real stack, exactly as issue 18's contract:
 * three users invite, accept, sync (live too), change roles, remove (which rotates) and leave; a
 * Vault keeps working across rotations; a forged or replayed grant is refused by the client.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ConflictError, ForbiddenError, GrantVerificationError, HaexSyncClient, NotFoundError, type DecryptedLog, type Vault, WrongSecretError,
} from '../src/index.ts';
import { adminSql, newUser, stack } from '../../tests/support/stack.ts';

type User = Awaited<ReturnType<typeof newUser>>;

async function signedIn(user: User): Promise<SupabaseClient> {
  const supabase = createClient(stack.API_URL, stack.CLIENT_KEY, {
    auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
  });
  const { error } = await supabase.auth.setSession({ access_token: user.access_token, refresh_token: user.refresh_token });
  expect(error).toBeNull();
  return supabase;
}

interface Person { user: User; client: HaexSyncClient }
async function person(label: string): Promise<Person> {
  const user = await newUser(label);
  const client = HaexSyncClient.create({ supabase: await signedIn(user), deviceId: label });
  await client.unlockIdentity(`${label} secret`);
  return { user, client };
}

const hlc = (() => { let n = 0; return () => `${Date.now().toString().padStart(15, '0')}-${String(++n).padStart(6, '0')}`; })();
const change = (value: string) => ({ data: { value }, haexTimestamp: hlc() });
async function values(vault: Vault, after = 0): Promise<string[]> {
  const out: string[] = [];
  for await (const page of vault.pull(after)) out.push(...page.logs.map((l) => (l.data as { value: string }).value));
  return out;
}

let alice: Person, bob: Person, carol: Person;
let aliceVault: Vault;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([person('alice'), person('bob'), person('carol')]);
  aliceVault = await alice.client.createVault('alice vault password');
  await aliceVault.push([change('a1'), change('a2')]);
});

describe('shared vaults through the client library', () => {
  it('identity: the same secret unlocks the same identity; a wrong one throws WrongSecretError', async () => {
    const again = HaexSyncClient.create({ supabase: await signedIn(alice.user) });
    await again.unlockIdentity('alice secret');
    expect(again.fingerprint).toBe(alice.client.fingerprint);
    expect(alice.client.fingerprint).toMatch(/^([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
    await expect(again.unlockIdentity('not alice secret')).rejects.toBeInstanceOf(WrongSecretError);
  });

  it('invite, see the inviter\'s fingerprint, accept: the invitee reads and writes, live', async () => {
    const sent = await aliceVault.invite({ email: bob.user.email, role: 'writer' });
    expect(sent.to.fingerprint).toBe(bob.client.fingerprint);
    // the owner's other device opens the vault with the identity alone (inviting stored her own grant)
    const aliceLaptop = HaexSyncClient.create({ supabase: await signedIn(alice.user) });
    await aliceLaptop.unlockIdentity('alice secret');
    expect(await values(await aliceLaptop.unlockVault(aliceVault.vaultId))).toEqual(['a1', 'a2']);
    const pending = await bob.client.invitations();
    expect(pending.map((p) => ({ id: p.id, vaultId: p.vaultId, role: p.role, from: p.from }))).toEqual([{
      id: sent.id, vaultId: aliceVault.vaultId, role: 'writer',
      from: { userId: alice.user.id, email: alice.user.email, fingerprint: alice.client.fingerprint },
    }]);
    expect(Date.parse(pending[0]!.expiresAt)).toBeGreaterThan(Date.now() + 6 * 86400_000);
    const shared = await bob.client.acceptInvite(pending[0]!.id);
    expect(await values(shared)).toEqual(['a1', 'a2']);
    expect((await bob.client.acceptInvite(pending[0]!.id)).vaultId).toBe(aliceVault.vaultId); // idempotent

    // live: alice's device follows bob's pushes through Realtime pokes
    let seen: (logs: DecryptedLog[]) => void = () => {};
    const arrived = new Promise<void>((resolve) => { seen = (logs) => { if (logs.some((l) => (l.data as any).value === 'b1')) resolve(); }; });
    let isLive: () => void = () => {};
    const subscribed = new Promise<void>((resolve) => { isLive = resolve; });
    const live = aliceVault.live({ cursor: 2, apply: (logs) => seen(logs), checkIntervalMs: 0,
      onState: (state) => { if (state === 'live') isLive(); } });
    await subscribed;
    await shared.push([change('b1')]);
    await arrived;
    await live.stop();
  });

  it('a reader pulls but its push is ForbiddenError; setRole makes it a writer; members show roles and fingerprints', async () => {
    await aliceVault.invite({ email: carol.user.email, role: 'reader' });
    const [invitation] = await carol.client.invitations();
    const carolVault = await carol.client.acceptInvite(invitation!.id);
    expect(await values(carolVault)).toEqual(['a1', 'a2', 'b1']);
    await expect(carolVault.push([change('c0')])).rejects.toBeInstanceOf(ForbiddenError);
    expect((await aliceVault.members()).map((m) => [m.userId, m.role, m.fingerprint])).toEqual([
      [alice.user.id, 'owner', alice.client.fingerprint], [bob.user.id, 'writer', bob.client.fingerprint],
      [carol.user.id, 'reader', carol.client.fingerprint]]);
    await aliceVault.setRole(carol.user.id, 'writer');
    await carolVault.push([change('c1')]);
  });

  it('removeMember ends access at once and rotates; remaining Vaults keep working across the rotation', async () => {
    const bobVault = await bob.client.unlockVault(aliceVault.vaultId);
    const carolVault = await carol.client.unlockVault(aliceVault.vaultId); // opened before the rotation
    await aliceVault.removeMember(bob.user.id);
    expect(aliceVault.keyGeneration).toBe(2);
    await expect(values(bobVault)).rejects.toBeInstanceOf(NotFoundError);
    await expect(bobVault.push([change('b-after')])).rejects.toBeInstanceOf(NotFoundError);

    await aliceVault.push([change('a3')]); // under generation 2
    expect(await values(carolVault)).toEqual(['a1', 'a2', 'b1', 'c1', 'a3']); // fetched the generation-2 grant
    await carolVault.push([change('c2')]); // carol's Vault still encrypts under 1: refused, refreshed, pushed again under 2
    expect(carolVault.keyGeneration).toBe(2);
    const generations = await adminSql()`select key_generation::int as g from public.sync_logs where vault_id = ${aliceVault.vaultId} order by sequence`;
    expect(generations.map((r) => r.g)).toEqual([1, 1, 1, 1, 2, 2]);
    // the owner's password copy was re-wrapped: a fresh device opens generation 2 with the password alone
    const fresh = HaexSyncClient.create({ supabase: await signedIn(alice.user) });
    const reopened = await fresh.unlockVault(aliceVault.vaultId, 'alice vault password');
    expect(reopened.keyGeneration).toBe(2);
  });

  it('a grant with a bad signature, or replayed from another recipient, is refused by the client; its other generations still open', async () => {
    // A vault of this test's own: the grants altered below are nobody else's fixture.
    const own = await alice.client.createVault('tamper vault password');
    await own.invite({ email: carol.user.email, role: 'reader' });
    const invitation = (await carol.client.invitations()).find((i) => i.vaultId === own.vaultId)!;
    await carol.client.acceptInvite(invitation.id);
    expect(await own.rotateKey()).toBe(2);
    await own.push([change('under 2')]);
    const sql = adminSql();
    const v = own.vaultId;
    // carol's generation-2 grant with its signature altered: generation 1 still opens, generation 2 is refused
    await sql`update public.vault_key_grants set signature = ${Buffer.alloc(64, 7).toString('base64')}
              where vault_id = ${v} and recipient_id = ${carol.user.id} and key_generation = 2`;
    const opened = await carol.client.unlockVault(v);
    expect(opened.keyGeneration).toBe(1);
    await expect(values(opened)).rejects.toBeInstanceOf(GrantVerificationError);
    // alice's own generation-2 grant copied over carol's (a replay to another recipient)
    await sql`update public.vault_key_grants c set ephemeral_public_key = a.ephemeral_public_key, nonce = a.nonce,
                sealed_key = a.sealed_key, signature = a.signature, sender_id = a.sender_id
              from public.vault_key_grants a
              where c.vault_id = ${v} and c.recipient_id = ${carol.user.id} and c.key_generation = 2
                and a.vault_id = ${v} and a.recipient_id = ${alice.user.id} and a.key_generation = 2`;
    await expect(values(await carol.client.unlockVault(v))).rejects.toBeInstanceOf(GrantVerificationError);
  });

  it('an invite link: the first claimer joins and reads everything; the link, used up, refuses the next', async () => {
    const link = await aliceVault.createInviteLink({ role: 'reader', maxUses: 1 });
    const [erin, frank] = await Promise.all([person('erin'), person('frank')]);
    const erinVault = await erin.client.joinByLink(link);
    expect((await values(erinVault)).slice(0, 2)).toEqual(['a1', 'a2']); // generation 1 and 2 both open
    expect(await values(erinVault)).toContain('a3');
    const refused = await frank.client.joinByLink(link).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as ConflictError).code).toBe('invitation_closed');
  });

  it('leave ends the member\'s access', async () => {
    const dave = await person('dave');
    await aliceVault.invite({ email: dave.user.email, role: 'reader' });
    const daveVault = await dave.client.acceptInvite((await dave.client.invitations())[0]!.id);
    const generation = aliceVault.keyGeneration;
    await daveVault.leave();
    await expect(values(daveVault)).rejects.toBeInstanceOf(NotFoundError);
    await expect(dave.client.unlockVault(aliceVault.vaultId)).rejects.toBeInstanceOf(NotFoundError);
    // the rotation is due: the owner's device rotates when it next opens the vault
    expect((await alice.client.listVaults()).find((v) => v.vaultId === aliceVault.vaultId)?.keyRotationDue).toBe(true);
    const reopened = await alice.client.unlockVault(aliceVault.vaultId, 'alice vault password');
    expect(reopened.keyGeneration).toBe(generation + 1);
    expect((await alice.client.listVaults()).find((v) => v.vaultId === aliceVault.vaultId)?.keyRotationDue).toBe(false);
  });
});
