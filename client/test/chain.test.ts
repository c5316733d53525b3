/**
 * The membership chain's replay rules (client/src/sharing/chain.ts) without a server: who may sign
 * which change, what a rotation and an invite link admit, what is skipped and what refuses the
 * whole chain (broken links, forks, rollbacks).
 */
import { describe, expect, it } from 'vitest';
import {
  type ChainLinkRow, joinSignedBytes, keyCheck, linkHash, linkSigningKey, memberKeys, replayChain, signLink, UntrustedChangeError,
} from '../src/sharing/chain.ts';
import { exportRawPublic, generateKeyPairs, identitySignedBytes, sign } from '../src/sharing/crypto.ts';
import { toBase64 } from '../src/encoding.ts';

const VAULT = '0b7f4c1e-5a57-4d1c-9c59-3a0f0e6f2a10';

async function who(n: number) {
  const { encryption, signing } = await generateKeyPairs();
  const pub = { userId: `00000000-0000-4000-8000-00000000000${n}`, encryptionPublicKey: await exportRawPublic(encryption.publicKey),
    signingPublicKey: await exportRawPublic(signing.publicKey) };
  return { ...pub, signature: await sign(signing.privateKey, identitySignedBytes(pub)), signingPrivateKey: signing.privateKey };
}
type Who = Awaited<ReturnType<typeof who>>;

/** A chain built link by link, as devices append them (each naming the last hash). */
class Chain {
  rows: ChainLinkRow[] = [];
  head: { seq: number; hash: string } | undefined;
  async add(author: Who, fields: Record<string, unknown> & { type: string }, forgeSignatureBy?: Who) {
    const link = await signLink(author, VAULT, this.head, fields);
    if (forgeSignatureBy) link.signature = (await signLink(forgeSignatureBy, VAULT, this.head, fields)).signature;
    const hash = await linkHash(link.body, link.signature);
    this.rows.push({ seq: this.rows.length, ...link, hash });
    this.head = { seq: this.rows.length - 1, hash };
  }
  replay(pin?: { seq: number; hash: string }) { return replayChain(VAULT, this.rows, pin); }
}

const check = (g: number) => keyCheck(VAULT, g, new Uint8Array(32).fill(g));

async function started() {
  const [owner, admin, writer, other] = await Promise.all([1, 2, 3, 4].map(who)) as [Who, Who, Who, Who];
  const chain = new Chain();
  await chain.add(owner, { type: 'create', owner: memberKeys(owner), keys: [{ generation: 1, check: await check(1) }] });
  await chain.add(owner, { type: 'add', member: memberKeys(admin), role: 'admin' });
  await chain.add(admin, { type: 'add', member: memberKeys(writer), role: 'writer' });
  return { owner, admin, writer, other, chain };
}
const roles = (s: Awaited<ReturnType<typeof replayChain>>) => Object.fromEntries([...s.members].map(([id, m]) => [id.slice(-1), m.role]));

describe('membership chain replay', () => {
  it('an honest chain: the owner signs admins in, admins sign writers in, an admin rotates', async () => {
    const { owner, admin, writer, chain } = await started();
    await chain.add(admin, { type: 'rotate', generation: 2, check: await check(2), recipients: [owner.userId, admin.userId, writer.userId] });
    const s = await chain.replay();
    expect(s.refused).toEqual([]);
    expect(roles(s)).toEqual({ 1: 'owner', 2: 'admin', 3: 'writer' });
    expect([...s.generations.keys()]).toEqual([1, 2]);
    expect(s.generations.get(2)).toBe(await check(2));
  });

  it('skips what a signer has no right to: an admin making an admin, a writer rotating or adding, a forged signature', async () => {
    const { owner, admin, writer, other, chain } = await started();
    await chain.add(admin, { type: 'add', member: memberKeys(other), role: 'admin' });
    await chain.add(writer, { type: 'rotate', generation: 2, check: await check(2), recipients: [owner.userId, writer.userId] });
    await chain.add(writer, { type: 'add', member: memberKeys(other), role: 'reader' });
    await chain.add(other, { type: 'role', member: writer.userId, role: 'admin' }); // not a member: unknown author
    await chain.add(owner, { type: 'role', member: writer.userId, role: 'admin' }, other); // "by the owner", signed by someone else
    const s = await chain.replay();
    expect(s.refused.map((r) => [r.seq, r.type])).toEqual([[3, 'add'], [4, 'rotate'], [5, 'add'], [6, 'role'], [7, 'role']]);
    expect(s.refused.at(-1)!.reason).toBe('its signature does not verify');
    expect(roles(s)).toEqual({ 1: 'owner', 2: 'admin', 3: 'writer' });
    expect(s.latestGeneration).toBe(1);
  });

  it('a rotation admits only members: a stranger among its recipients refuses it; whoever it leaves out is out', async () => {
    const { owner, admin, writer, other, chain } = await started();
    await chain.add(owner, { type: 'rotate', generation: 2, check: await check(2), recipients: [owner.userId, other.userId] });
    await chain.add(owner, { type: 'rotate', generation: 2, check: await check(2), recipients: [owner.userId, admin.userId] });
    const s = await chain.replay();
    expect(s.refused.map((r) => r.seq)).toEqual([3]);
    expect(roles(s)).toEqual({ 1: 'owner', 2: 'admin' });
    expect(s.members.has(writer.userId)).toBe(false);
  });

  it('invite links: a join needs the link key\'s signature, uses left, a creator still entitled, and no removal after the link', async () => {
    const { owner, admin, writer, other, chain } = await started();
    const secret = new Uint8Array(32).fill(9);
    const link = await linkSigningKey(secret);
    const joinOf = async (m: Who, key = link) => ({ type: 'join', member: memberKeys(m), linkKey: link.publicKey,
      linkSignature: toBase64(new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, joinSignedBytes(VAULT, link.publicKey, m))))});
    await chain.add(admin, { type: 'link', linkKey: link.publicKey, role: 'reader', maxUses: 1 });   // 3
    const forger = await linkSigningKey(new Uint8Array(32).fill(1));
    await chain.add(other, await joinOf(other, forger));                                              // 4: not the link's key
    await chain.add(other, await joinOf(other));                                                      // 5: joins
    const fifth = await who(5);
    await chain.add(fifth, await joinOf(fifth));                                                      // 6: used up
    await chain.add(owner, { type: 'remove', member: other.userId });                                 // 7
    const s = await chain.replay();
    expect(s.refused.map((r) => [r.seq, r.reason])).toEqual([[4, 'it is not signed by the invite link\'s key'], [6, 'its invite link is used up']]);
    expect(s.members.has(other.userId)).toBe(false);

    // a link made before a removal cannot bring the removed back; a demoted creator's link is dead
    const many = await linkSigningKey(new Uint8Array(32).fill(7));
    const later = new Chain();
    later.rows = [...chain.rows]; later.head = chain.head;
    await later.add(admin, { type: 'link', linkKey: many.publicKey, role: 'reader', maxUses: 5 });    // 8
    await later.add(owner, { type: 'remove', member: writer.userId });                                // 9
    const joinMany = async (m: Who) => ({ type: 'join', member: memberKeys(m), linkKey: many.publicKey,
      linkSignature: toBase64(new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, many.privateKey, joinSignedBytes(VAULT, many.publicKey, m))))});
    await later.add(writer, await joinMany(writer));                                                  // 10: removed after the link
    await later.add(owner, { type: 'role', member: admin.userId, role: 'writer' });                   // 11: the creator demoted
    await later.add(fifth, await joinMany(fifth));                                                    // 12
    const t = await later.replay();
    expect(t.refused.filter((r) => r.seq >= 8).map((r) => r.seq)).toEqual([10, 12]);
    expect(t.members.has(writer.userId) || t.members.has(fifth.userId)).toBe(false);
  });

  it('refuses the whole chain when a link is missing, reordered or rewritten, when it forks from the pin, or is rolled back', async () => {
    const { chain } = await started();
    const pin = (await chain.replay()).head!;
    await expect(replayChain(VAULT, [chain.rows[0]!, chain.rows[2]!])).rejects.toBeInstanceOf(UntrustedChangeError);
    const rewritten = chain.rows.map((r, i) => i === 1 ? { ...r, body: r.body.replace('"admin"', '"reader"') } : r);
    await expect(replayChain(VAULT, rewritten)).rejects.toBeInstanceOf(UntrustedChangeError); // link 2 names the old hash
    await expect(replayChain(VAULT, chain.rows.slice(0, 2), pin)).rejects.toThrow(/rolled back/);
    const other = await started();
    await expect(replayChain(VAULT, other.chain.rows, pin)).rejects.toThrow(/fork/);
    await expect(replayChain('9e0c3b1a-2d4f-4a6b-8c7d-1e2f3a4b5c6d', chain.rows)).rejects.toThrow(/broken/);
  });
});
