/**
 * The membership chain of a shared vault (issue 24; docs/sharing.md "Signed membership"): every
 * membership change and every key generation is a link signed by a member whose right to make it
 * chains back to the vault's creator. Devices replay the chain (replayChain) and trust nothing else
 * the server says about who the members are, what their keys are, or which key is current.
 *
 * Wire format of a link, as stored (public.vault_chain_links) and as answered by list_chain_links:
 *   body      = a JSON text (the exact bytes are signed; verifiers parse, never re-serialize):
 *               { "v": 1, "vault": <uuid>, "seq": n, "prev": <hex SHA-256 of link n-1> | null,
 *                 "author": <user id>, "at": <ISO time>, "type": <type>, ...fields of the type }
 *   signature = base64 Ed25519 by the author's identity signing key over
 *               UTF-8("haex-sync/chain/v1" 0x00 body)
 *   hash      = hex SHA-256 of UTF-8("haex-sync/chain-link/v1" 0x00 body 0x00 signature)
 * Types and their fields (a MemberKeys is { userId, encryptionPublicKey, signingPublicKey, signature },
 * the member's self-signed identity, crypto.ts):
 *   create  owner: MemberKeys, keys: [{ generation, check }]         seq 0 only, by the owner
 *   add     member: MemberKeys, role                                 admins add writers and readers; the owner anyone
 *   role    member: userId, role                                     by someone who outranks the member and the role
 *   remove  member: userId                                           by someone who outranks the member, or the member (leaving)
 *   rotate  generation, check, recipients: [userId]                  admins and the owner; recipients are the members after it
 *   link    linkKey, role, maxUses                                   an invite link (its secret's Ed25519 key), as `add`
 *   join    member: MemberKeys, linkKey, linkSignature               by the joiner; linkSignature = Ed25519 by the link key over
 *                                                                    UTF-8("haex-sync/chain-join/v1" 0x00 vault 0x00 linkKey
 *                                                                    0x00 userId 0x00 encryptionPublicKey 0x00 signingPublicKey)
 *   check   = base64 HMAC-SHA-256(key = the generation's raw vault key,
 *             UTF-8("haex-sync/key-check/v1" 0x00 vault 0x00 generation)): commits the chain to the key.
 *
 * Replay rules: a link must be number seq, name its predecessor's hash and this vault, else the
 * whole chain is refused (the server reordered, dropped or rewrote history): UntrustedChangeError.
 * A link whose signature or right does not hold is skipped and reported (`refused`); an honest
 * device verifies before it appends, so only a forger's (the server's, or a member's with a
 * modified client) links are skipped. A device pins the head it verified (seq and hash) and refuses
 * a chain that does not extend it (fork or rollback). Limits: 10,000 links per replay.
 */
import { HaexSyncError } from '../errors.ts';
import { fromBase64, subtle, toBase64, utf8 } from '../encoding.ts';
import { fingerprint, type PublicIdentity, verifyIdentity } from './crypto.ts';

export const CHAIN_SIGNATURE_PREFIX = 'haex-sync/chain/v1';
export const CHAIN_HASH_PREFIX = 'haex-sync/chain-link/v1';
export const JOIN_SIGNATURE_PREFIX = 'haex-sync/chain-join/v1';
export const KEY_CHECK_PREFIX = 'haex-sync/key-check/v1';
const MAX_LINKS = 10_000;

export type ChainRole = 'owner' | 'admin' | 'writer' | 'reader';
const RANK: Record<string, number> = { owner: 4, admin: 3, writer: 2, reader: 1 };
const rank = (role: string | undefined) => (role && RANK[role]) || 0;

/**
 * The server's word about membership or keys did not verify against the vault's signed chain. The
 * vault stays usable under its last verified key generation; `reason` says what was wrong, and
 * `fingerprint` is the unverified identity key's, when a key was substituted.
 */
export class UntrustedChangeError extends HaexSyncError {
  constructor(readonly vaultId: string, readonly reason: string, readonly fingerprint?: string) {
    super(`vault ${vaultId}: untrusted change refused: ${reason}${fingerprint ? ` (fingerprint ${fingerprint})` : ''}`);
  }
}

export interface ChainLinkRow { seq: number; body: string; signature: string; hash?: string }
export interface ChainMember { keys: PublicIdentity; role: ChainRole; fingerprint: string }
interface LinkInvite { role: ChainRole; maxUses: number; used: number; creator: string; seq: number; generation: number }

export interface ChainState {
  vaultId: string;
  head: { seq: number; hash: string } | undefined;
  owner: string | undefined;
  members: Map<string, ChainMember>;
  /** Every identity a user of this vault was ever signed in with (trust on first use, per vault). */
  knownKeys: Map<string, PublicIdentity>;
  /** generation -> key check (create and rotate links). */
  generations: Map<number, string>;
  latestGeneration: number;
  refused: Array<{ seq: number; type: string; reason: string }>;
  links: Map<string, LinkInvite>;
  removedAt: Map<string, number>;
  /** The seq at which a user's role last went down or they were removed (their links die with it). */
  demotedAt: Map<string, number>;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const signedBytes = (body: string) => utf8(`${CHAIN_SIGNATURE_PREFIX}\u0000${body}`);
export const joinSignedBytes = (vaultId: string, linkKey: string, m: PublicIdentity) =>
  utf8(`${JOIN_SIGNATURE_PREFIX}\u0000${vaultId}\u0000${linkKey}\u0000${m.userId}\u0000${m.encryptionPublicKey}\u0000${m.signingPublicKey}`);

export async function linkHash(body: string, signature: string): Promise<string> {
  const digest = new Uint8Array(await subtle().digest('SHA-256', utf8(`${CHAIN_HASH_PREFIX}\u0000${body}\u0000${signature}`)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function keyCheck(vaultId: string, generation: number, raw: Uint8Array<ArrayBuffer>): Promise<string> {
  const key = await subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toBase64(new Uint8Array(await subtle().sign('HMAC', key, utf8(`${KEY_CHECK_PREFIX}\u0000${vaultId}\u0000${generation}`))));
}

export async function verifyEd25519(publicKey: string, signature: string, bytes: Uint8Array<ArrayBuffer>): Promise<boolean> {
  try {
    const key = await subtle().importKey('raw', fromBase64(publicKey, 'signing key'), { name: 'Ed25519' }, false, ['verify']);
    return await subtle().verify({ name: 'Ed25519' }, key, fromBase64(signature, 'signature'), bytes);
  } catch {
    return false;
  }
}

/** Signs a link body (the fields of its type) as `author`; returns what append_chain_link takes. */
export async function signLink(author: { userId: string; signingPrivateKey: CryptoKey }, vaultId: string,
  head: ChainState['head'], fields: Record<string, unknown> & { type: string }) {
  const body = JSON.stringify({ v: 1, vault: vaultId, seq: head ? head.seq + 1 : 0, prev: head?.hash ?? null,
    author: author.userId, at: new Date().toISOString(), ...fields });
  const signature = toBase64(new Uint8Array(await subtle().sign({ name: 'Ed25519' }, author.signingPrivateKey, signedBytes(body))));
  return { body, signature };
}

export const memberKeys = (id: PublicIdentity): PublicIdentity =>
  ({ userId: id.userId, encryptionPublicKey: id.encryptionPublicKey, signingPublicKey: id.signingPublicKey, signature: id.signature });
export const sameKeys = (a: PublicIdentity, b: PublicIdentity) =>
  a.encryptionPublicKey === b.encryptionPublicKey && a.signingPublicKey === b.signingPublicKey;

const isKeys = (v: any): v is PublicIdentity => v && typeof v.userId === 'string' && typeof v.encryptionPublicKey === 'string'
  && typeof v.signingPublicKey === 'string' && typeof v.signature === 'string';

/** Replays a chain: the verified state, or UntrustedChangeError when its structure or the pin does not hold. */
export async function replayChain(vaultId: string, rows: ChainLinkRow[], pin?: { seq: number; hash: string }): Promise<ChainState> {
  const s: ChainState = { vaultId, head: undefined, owner: undefined, members: new Map(), knownKeys: new Map(),
    generations: new Map(), latestGeneration: 0, refused: [], links: new Map(), removedAt: new Map(), demotedAt: new Map() };
  if (rows.length > MAX_LINKS) throw new UntrustedChangeError(vaultId, `the chain has more than ${MAX_LINKS} links`);
  for (const [i, row] of rows.entries()) {
    let link: any;
    try { link = JSON.parse(row.body); } catch { link = undefined; }
    if (!link || link.v !== 1 || link.vault !== vaultId || link.seq !== i || Number(row.seq) !== i
        || link.prev !== (s.head?.hash ?? null) || typeof link.author !== 'string' || typeof link.type !== 'string') {
      throw new UntrustedChangeError(vaultId, `the chain is broken at link ${i} (missing, reordered or rewritten)`);
    }
    const hash = await linkHash(row.body, row.signature);
    if (pin && pin.seq === i && pin.hash !== hash) throw new UntrustedChangeError(vaultId, `the chain forks from the one verified before at link ${i}`);
    s.head = { seq: i, hash };
    const reason = await apply(s, link, row);
    if (reason) s.refused.push({ seq: i, type: link.type, reason });
  }
  if (pin && (s.head?.seq ?? -1) < pin.seq) throw new UntrustedChangeError(vaultId, `the chain ends before link ${pin.seq}, verified before (rolled back)`);
  return s;
}

/** Applies one structurally sound link; answers why it was refused, or undefined. */
async function apply(s: ChainState, link: any, row: ChainLinkRow): Promise<string | undefined> {
  const author = link.type === 'create' ? (isKeys(link.owner) ? link.owner as PublicIdentity : undefined)
    : link.type === 'join' ? (isKeys(link.member) ? link.member as PublicIdentity : undefined)
    : s.members.get(link.author)?.keys;
  if (!author || author.userId !== link.author) return `its author ${link.author} is not a member`;
  if (!await verifyEd25519(author.signingPublicKey, row.signature, signedBytes(row.body))) return 'its signature does not verify';
  const authorRole = s.members.get(link.author)?.role;
  const grantable = (role: unknown) => role === 'admin' ? authorRole === 'owner' : (role === 'writer' || role === 'reader') && rank(authorRole) >= RANK.admin!;
  switch (link.type) {
    case 'create': {
      if (link.seq !== 0) return 'only the first link creates';
      if (!await identityHolds(author)) return 'the owner\'s identity has no valid self-signature';
      if (!Array.isArray(link.keys)) return 'create names no keys';
      s.owner = author.userId;
      await addMember(s, author, 'owner');
      for (const k of link.keys) {
        if (Number.isSafeInteger(k?.generation) && k.generation > 0 && typeof k.check === 'string') {
          s.generations.set(k.generation, k.check);
          s.latestGeneration = Math.max(s.latestGeneration, k.generation);
        }
      }
      return undefined;
    }
    case 'add': {
      if (!isKeys(link.member) || !await identityHolds(link.member)) return 'the new member\'s identity does not verify';
      if (!grantable(link.role)) return `a ${authorRole} may not add a ${link.role}`;
      if (s.members.has(link.member.userId)) return `${link.member.userId} is a member already`;
      await addMember(s, link.member, link.role);
      return undefined;
    }
    case 'role': {
      const target = s.members.get(link.member);
      if (!target) return `${link.member} is not a member`;
      if (rank(target.role) >= rank(authorRole) || !grantable(link.role)) return `a ${authorRole} may not make a ${target.role} ${link.role}`;
      if (rank(link.role) < rank(target.role)) s.demotedAt.set(link.member, link.seq);
      target.role = link.role;
      return undefined;
    }
    case 'remove': {
      const target = s.members.get(link.member);
      if (!target) return `${link.member} is not a member`;
      if (target.role === 'owner') return 'the owner is never removed';
      if (link.member !== link.author && rank(target.role) >= rank(authorRole)) return `a ${authorRole} may not remove a ${target.role}`;
      s.members.delete(link.member);
      s.removedAt.set(link.member, link.seq);
      s.demotedAt.set(link.member, link.seq);
      return undefined;
    }
    case 'rotate': {
      if (rank(authorRole) < RANK.admin!) return `a ${authorRole} may not rotate the key`;
      if (!Number.isSafeInteger(link.generation) || link.generation <= s.latestGeneration) return `generation ${link.generation} does not follow ${s.latestGeneration}`;
      if (!Array.isArray(link.recipients) || typeof link.check !== 'string') return 'rotate names no recipients or key check';
      const stranger = link.recipients.find((r: unknown) => typeof r !== 'string' || !s.members.has(r));
      if (stranger !== undefined || !link.recipients.includes(link.author)) return `it seals to ${String(stranger ?? 'no author')}, who is not a member`;
      s.generations.set(link.generation, link.check);
      s.latestGeneration = link.generation;
      // The rotation names the members it sealed to: whoever it left out is out (an invitee who never joined).
      for (const id of [...s.members.keys()]) if (!link.recipients.includes(id)) s.members.delete(id);
      return undefined;
    }
    case 'link': {
      if (typeof link.linkKey !== 'string' || !Number.isSafeInteger(link.maxUses) || link.maxUses < 1) return 'link names no key or uses';
      if (!grantable(link.role)) return `a ${authorRole} may not invite a ${link.role}`;
      s.links.set(link.linkKey, { role: link.role, maxUses: link.maxUses, used: 0, creator: link.author, seq: link.seq, generation: s.latestGeneration });
      return undefined;
    }
    case 'join': {
      const invite = s.links.get(link.linkKey);
      if (!invite) return 'it names no invite link of this vault';
      if (invite.generation !== s.latestGeneration) return 'its invite link was voided by a key rotation';
      if (invite.used >= invite.maxUses) return 'its invite link is used up';
      if ((s.demotedAt.get(invite.creator) ?? -1) > invite.seq) return 'the link\'s creator was demoted or removed since';
      if ((s.removedAt.get(link.author) ?? -1) > invite.seq) return 'the joiner was removed after the link was made';
      if (s.members.has(link.author)) return `${link.author} is a member already`;
      if (!await identityHolds(link.member)) return 'the joiner\'s identity does not verify';
      if (typeof link.linkSignature !== 'string'
          || !await verifyEd25519(link.linkKey, link.linkSignature, joinSignedBytes(s.vaultId, link.linkKey, link.member))) {
        return 'it is not signed by the invite link\'s key';
      }
      invite.used++;
      await addMember(s, link.member, invite.role);
      return undefined;
    }
    default:
      return `unknown type ${String(link.type)}`;
  }
}

async function identityHolds(id: PublicIdentity): Promise<boolean> {
  try { await verifyIdentity(id); return true; } catch { return false; }
}

async function addMember(s: ChainState, keys: PublicIdentity, role: ChainRole) {
  const k = memberKeys(keys);
  s.members.set(k.userId, { keys: k, role, fingerprint: await fingerprint(k.encryptionPublicKey, k.signingPublicKey) });
  if (!s.knownKeys.has(k.userId)) s.knownKeys.set(k.userId, k);
}

/** Ed25519 key pair of an invite link, from its secret (HKDF-SHA-256, info "haex-sync/link-signing/v1"). */
export async function linkSigningKey(secret: Uint8Array<ArrayBuffer>): Promise<{ publicKey: string; privateKey: CryptoKey }> {
  const material = await subtle().importKey('raw', secret, 'HKDF', false, ['deriveBits']);
  const seed = new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0),
    info: utf8('haex-sync/link-signing/v1') }, material, 256));
  const prefix = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
  const privateKey = await subtle().importKey('pkcs8', concat(prefix, seed), { name: 'Ed25519' }, true, ['sign']);
  const jwk = await subtle().exportKey('jwk', privateKey);
  const publicKey = toBase64(fromBase64(jwk.x!.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - jwk.x!.length % 4) % 4), 'x'));
  return { publicKey, privateKey };
}
