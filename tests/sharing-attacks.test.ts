/**
 * A malicious server against shared vaults (issue 24): the database is changed behind the clients'
 * backs, as whoever runs or breaks into the server could, and the client library must refuse what
 * the vault's signed membership chain does not back (UntrustedChangeError), seal no key to anyone
 * the chain does not admit, and stay usable under its last verified key generation. Each vault is
 * this test's own (no shared fixtures).
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HaexSyncClient, type UntrustedChangeError, type Vault } from '../client/src/index.ts';
import { fingerprint, identitySignedBytes, sign } from '../client/src/sharing/crypto.ts';
import { adminSql, newUser, stack } from './support/stack.ts';

type User = Awaited<ReturnType<typeof newUser>>;
interface Person { user: User; client: HaexSyncClient }

async function person(label: string): Promise<Person> {
  return await deviceOf(await newUser(label), label);
}

/** A device (client) of an existing user, identity unlocked. */
async function deviceOf(user: User, label: string): Promise<Person> {
  const supabase: SupabaseClient = createClient(stack.API_URL, stack.CLIENT_KEY, {
    auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
  });
  const { error } = await supabase.auth.setSession({ access_token: user.access_token, refresh_token: user.refresh_token });
  expect(error).toBeNull();
  const client = HaexSyncClient.create({ supabase, deviceId: label });
  await client.unlockIdentity(`${label} secret`);
  return { user, client };
}

let tick = 0;
const change = (value: string) => ({ data: { value }, haexTimestamp: `${Date.now().toString().padStart(15, '0')}-${String(++tick).padStart(6, '0')}` });
async function values(vault: Vault): Promise<string[]> {
  const out: string[] = [];
  for await (const page of vault.pull(0)) out.push(...page.logs.map((l) => (l.data as { value: string }).value));
  return out;
}

/** Alice's new vault with Bob as a writer, both Vaults open. */
async function aliceAndBob(): Promise<{ alice: Person; bob: Person; aliceVault: Vault; bobVault: Vault }> {
  const [alice, bob] = await Promise.all([person('alice'), person('bob')]);
  const aliceVault = await alice.client.createVault('alice vault password');
  await aliceVault.push([change('a1')]);
  await aliceVault.invite({ email: bob.user.email, role: 'writer' });
  const bobVault = await bob.client.acceptInvite((await bob.client.invitations())[0]!.id);
  return { alice, bob, aliceVault, bobVault };
}

const grantsOf = async (vaultId: string, generation: number) =>
  (await adminSql()`select recipient_id from public.vault_key_grants where vault_id = ${vaultId} and key_generation = ${generation}
    order by recipient_id`).map((r) => r.recipient_id as string);

describe('a malicious server', () => {
  it('promotes a writer to admin in the database: its rotation is refused, the owner\'s push never goes out under that key, and the owner\'s next device recovers by rotating', async () => {
    const { alice, bob, aliceVault, bobVault } = await aliceAndBob();
    await adminSql()`update public.vault_members set role = 'admin' where vault_id = ${aliceVault.vaultId} and user_id = ${bob.user.id}`;
    expect(await bobVault.rotateKey()).toBe(2); // the server lets it through: it believes its own roles

    const refused = await aliceVault.push([change('a2')]).catch((e: unknown) => e);
    expect((refused as Error)?.name).toBe('UntrustedChangeError'); // by name: the class is new (this must fail before it)
    expect((refused as UntrustedChangeError).reason).toMatch(/generation 2 .*writer may not rotate/);
    const underTheServersKey = await adminSql()`select count(*)::int as n from public.sync_logs
      where vault_id = ${aliceVault.vaultId} and key_generation = 2 and author_id = ${alice.user.id}`;
    expect(underTheServersKey[0]!.n).toBe(0);
    expect(await values(aliceVault)).toEqual(['a1']); // still readable under generation 1

    // Recovery: the owner's next device to open the vault sees the unverified generation and rotates.
    const laptop = await deviceOf(alice.user, 'alice');
    expect((await laptop.client.unlockVault(aliceVault.vaultId, 'alice vault password')).keyGeneration).toBe(3);
    await aliceVault.push([change('a3')]); // refused as stale, refreshed: generation 3 is signed by the owner
    const [row] = await adminSql()`select key_generation::int as g from public.sync_logs
      where vault_id = ${aliceVault.vaultId} order by sequence desc limit 1`;
    expect(row!.g).toBe(3);
  });

  it('lists a stranger as a member: no key is sealed to them, and the member list is refused', async () => {
    const { aliceVault } = await aliceAndBob();
    const stranger = await person('stranger');
    await adminSql()`insert into public.vault_members (vault_id, user_id, role) values (${aliceVault.vaultId}, ${stranger.user.id}, 'writer')`;

    const refused = await aliceVault.rotateKey().catch((e: unknown) => e);
    expect((refused as Error)?.name).toBe('UntrustedChangeError'); // by name: the class is new (this must fail before it)
    expect((refused as UntrustedChangeError).reason).toContain(stranger.user.id);
    expect(await grantsOf(aliceVault.vaultId, 2)).toEqual([]);
    expect(((await aliceVault.members().catch((e: unknown) => e)) as Error)?.name).toBe('UntrustedChangeError');

    await aliceVault.removeMember(stranger.user.id); // recovery: the owner removes them; the rotation then goes out
    expect(aliceVault.keyGeneration).toBe(2);
    expect(await grantsOf(aliceVault.vaultId, 2)).not.toContain(stranger.user.id);
  });

  it('swaps a member\'s identity key for its own: nothing is sealed to it, and the new key\'s fingerprint is shown', async () => {
    const { bob, aliceVault } = await aliceAndBob();
    // The server's own identity for Bob, validly self-signed (the self-signature cannot stop this).
    const enc = await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']) as CryptoKeyPair;
    const sig = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']) as CryptoKeyPair;
    const raw = async (k: CryptoKey) => Buffer.from(await crypto.subtle.exportKey('raw', k)).toString('base64');
    const swapped = { userId: bob.user.id, encryptionPublicKey: await raw(enc.publicKey), signingPublicKey: await raw(sig.publicKey) };
    const selfSignature = await sign(sig.privateKey, identitySignedBytes(swapped));
    await adminSql()`update public.identities set encryption_public_key = ${swapped.encryptionPublicKey},
      signing_public_key = ${swapped.signingPublicKey}, signature = ${selfSignature} where user_id = ${bob.user.id}`;
    const shown = await fingerprint(swapped.encryptionPublicKey, swapped.signingPublicKey);

    const refused = await aliceVault.rotateKey().catch((e: unknown) => e);
    expect((refused as Error)?.name).toBe('UntrustedChangeError'); // by name: the class is new (this must fail before it)
    expect((refused as UntrustedChangeError).fingerprint).toBe(shown);
    expect((refused as Error).message).toContain(shown);
    expect(await grantsOf(aliceVault.vaultId, 2)).toEqual([]);
    const listed = await aliceVault.members().catch((e: unknown) => e);
    expect((listed as UntrustedChangeError).fingerprint).toBe(shown);
  });

  it('inserts a forged link into the chain: it is skipped, and a rewritten history is refused outright', async () => {
    const { alice, aliceVault } = await aliceAndBob();
    const outsider = await person('outsider');
    const sql = adminSql();
    // A forged "add" (signed by nobody the chain knows) at the next seq, correctly chained by hash.
    const [last] = await sql`select seq::int, hash from public.vault_chain_links where vault_id = ${aliceVault.vaultId} order by seq desc limit 1`;
    const body = JSON.stringify({ v: 1, vault: aliceVault.vaultId, seq: last!.seq + 1, prev: last!.hash, author: alice.user.id,
      at: new Date().toISOString(), type: 'add', role: 'admin', member: { userId: outsider.user.id } });
    const signature = Buffer.alloc(64, 1).toString('base64');
    await sql`insert into public.vault_chain_links (vault_id, seq, author_id, type, body, signature, hash)
      values (${aliceVault.vaultId}, ${last!.seq + 1}, ${alice.user.id}, 'add', ${body}, ${signature}, private.chain_link_hash(${body}, ${signature}))`;
    await sql`insert into public.vault_members (vault_id, user_id, role) values (${aliceVault.vaultId}, ${outsider.user.id}, 'admin')`;
    expect(((await aliceVault.members().catch((e: unknown) => e)) as Error)?.name).toBe('UntrustedChangeError');

    // Rewriting a link the device verified before (here: the first) is a fork: refused as a whole.
    await sql`update public.vault_chain_links set body = replace(body, '"create"', '"create" ') where vault_id = ${aliceVault.vaultId} and seq = 0`;
    const forked = await aliceVault.members().catch((e: unknown) => e);
    expect((forked as UntrustedChangeError).reason).toMatch(/broken|fork/);
  });
});
