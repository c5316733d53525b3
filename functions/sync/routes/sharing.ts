/**
 * Shared vaults over HTTP (issue 18; docs/http-api.md "Sharing", docs/sharing.md). Each route
 * validates its body with zod, calls one SQL function as the caller and maps the answer to camelCase;
 * access rules live in SQL (private.require_vault_role and friends), not here.
 *
 *   POST   /identity                       { encryptionPublicKey, signingPublicKey, signature,
 *                                            encryptedPrivateKeys, salt, nonce }       -> 201 {}
 *   GET    /identity                                                                  -> 200 { identity | null }
 *   GET    /identities?email=              -> 200 { identity: { userId, email, encryptionPublicKey, signingPublicKey, signature } }
 *   GET    /vaults/:vaultId/members        -> 200 { members: [{ userId, email, role, encryptionPublicKey, signingPublicKey, signature, createdAt }] }
 *   PUT    /vaults/:vaultId/members/:userId { role }                                  -> 204
 *   DELETE /vaults/:vaultId/members/:userId                                           -> 204
 *   POST   /vaults/:vaultId/leave                                                     -> 204
 *   POST   /vaults/:vaultId/invitations    { inviteeId, role, keyGeneration, grants, expiresInSeconds? } -> 201 { invitation }
 *   POST   /vaults/:vaultId/links          { token, role, keyGeneration, grants, maxUses?, expiresInSeconds? } -> 201 { link }
 *   POST   /links/claim                    { token }                                  -> 200 { vaultId, role, keyGeneration, grants, inviterId }
 *   GET    /invitations                    -> 200 { invitations: [...] }
 *   POST   /invitations/:id/accept         -> 200 { vaultId, role, keyGeneration }
 *   POST   /invitations/:id/decline        -> 204
 *   GET    /vaults/:vaultId/grants?minGeneration= -> 200 { grants: [...] }
 *   POST   /vaults/:vaultId/grants         { grants }                                 -> 204
 *   POST   /vaults/:vaultId/rotate         { replacesGeneration, grants, ownerKey? }  -> 200 { keyGeneration }
 *   GET    /vaults/:vaultId/chain?afterSeq= -> 200 { links: [{ seq, body, signature, hash }] }   (docs/sharing.md, the chain)
 *   POST   /vaults/:vaultId/chain          { body, signature }                        -> 201 { seq, hash } (409 chain_changed)
 *
 * A grant on the wire: { keyGeneration?, recipientId?, ephemeralPublicKey, nonce, sealedKey, signature } (base64).
 */
import { z } from 'zod';
import { isBase64, isUuid } from '../../_shared/encoding.ts';
import { badRequest, jsonResponse, notFound } from '../../_shared/errors.ts';
import { body, db, jsonBody, requireUser, type SyncApp } from '../context.ts';
import { parse, vaultIdParam } from '../protocol.ts';

const uuid = z.string().refine(isUuid, 'must be a uuid');
const b64 = z.string().min(1).max(1024).refine(isBase64, 'must be padded base64');
const generation = z.number().int('must be an integer').min(1, 'must be 1 or more').max(Number.MAX_SAFE_INTEGER, 'is too large'); // bigint in SQL; JSON numbers are exact up to 2^53
const role = z.enum(['admin', 'writer', 'reader']);
const grant = z.object({
  keyGeneration: generation.optional(), recipientId: uuid.optional(),
  ephemeralPublicKey: b64, nonce: b64, sealedKey: b64, signature: b64,
}).strict();
const grants = z.array(grant).min(1).max(1000);
const expiresInSeconds = z.number().int().min(60).max(2_592_000).optional();

const S = {
  identity: z.object({
    encryptionPublicKey: b64, signingPublicKey: b64, signature: b64, encryptedPrivateKeys: b64, salt: b64, nonce: b64,
  }).strict(),
  setRole: z.object({ role }).strict(),
  invite: z.object({ inviteeId: uuid, role, keyGeneration: generation, grants, expiresInSeconds }).strict(),
  link: z.object({
    token: z.string().min(1).max(64), role, keyGeneration: generation, grants, maxUses: z.number().int().min(1).max(1000).optional(),
    expiresInSeconds,
  }).strict(),
  claim: z.object({ token: z.string().min(1).max(64) }).strict(),
  storeGrants: z.object({ grants }).strict(),
  chainLink: z.object({ body: z.string().min(2).max(65_536), signature: b64 }).strict(),
  rotate: z.object({
    replacesGeneration: generation, grants,
    ownerKey: z.object({ encryptedVaultKey: b64, salt: b64, nonce: b64 }).strict().optional(),
  }).strict(),
};

type Grant = z.infer<typeof grant>;
const grantIn = (g: Grant) => ({
  key_generation: g.keyGeneration, recipient_id: g.recipientId, ephemeral_public_key: g.ephemeralPublicKey,
  nonce: g.nonce, sealed_key: g.sealedKey, signature: g.signature,
});
/** snake_case keys of a SQL answer (rows or jsonb) -> camelCase, one level deep (grants inside too). */
const camel = (row: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(row).map(([k, v]) => [
  k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
  Array.isArray(v) ? v.map((x) => (x && typeof x === 'object' ? camel(x as Record<string, unknown>) : x)) : v,
]));
const idParam = (raw: string, field: string) => {
  if (!uuid.safeParse(raw).success) throw badRequest(`${field} must be a uuid`, field);
  return raw.toLowerCase();
};

export function registerSharing(app: SyncApp) {
  app.post('/identity', requireUser, jsonBody, async (c) => {
    const input = parse(S.identity, await body(c.req.raw));
    await db.value(c.var.caller, 'create_identity', {
      encryption_public_key: input.encryptionPublicKey, signing_public_key: input.signingPublicKey, signature: input.signature,
      encrypted_private_keys: input.encryptedPrivateKeys, salt: input.salt, nonce: input.nonce,
    });
    return jsonResponse({}, 201);
  });

  app.get('/identity', requireUser, async (c) => {
    const rows = await db.rows<Record<string, unknown>>(c.var.caller, 'get_identity', {});
    return jsonResponse({ identity: rows[0] ? camel(rows[0]) : null });
  });

  app.get('/identities', requireUser, async (c) => {
    const email = c.req.query('email');
    if (!email || email.length > 255) throw badRequest('email must be 1 to 255 characters', 'email');
    const rows = await db.rows<Record<string, unknown>>(c.var.caller, 'find_identity', { email });
    if (!rows[0]) throw notFound('no user with an identity has this email');
    return jsonResponse({ identity: camel(rows[0]) });
  });

  app.get('/vaults/:vaultId/members', requireUser, async (c) => {
    const rows = await db.rows<Record<string, unknown>>(c.var.caller, 'list_vault_members',
      { vault_id: vaultIdParam(c.req.param('vaultId')) });
    return jsonResponse({ members: rows.map(camel) });
  });

  app.put('/vaults/:vaultId/members/:userId', requireUser, jsonBody, async (c) => {
    const input = parse(S.setRole, await body(c.req.raw));
    await db.value(c.var.caller, 'set_member_role', {
      vault_id: vaultIdParam(c.req.param('vaultId')), user_id: idParam(c.req.param('userId'), 'userId'), role: input.role,
    });
    return new Response(null, { status: 204 });
  });

  app.delete('/vaults/:vaultId/members/:userId', requireUser, async (c) => {
    await db.value(c.var.caller, 'remove_member', {
      vault_id: vaultIdParam(c.req.param('vaultId')), user_id: idParam(c.req.param('userId'), 'userId'),
    });
    return new Response(null, { status: 204 });
  });

  app.post('/vaults/:vaultId/leave', requireUser, async (c) => {
    await db.value(c.var.caller, 'leave_vault', { vault_id: vaultIdParam(c.req.param('vaultId')) });
    return new Response(null, { status: 204 });
  });

  app.post('/vaults/:vaultId/invitations', requireUser, jsonBody, async (c) => {
    const input = parse(S.invite, await body(c.req.raw));
    const answer = await db.value<Record<string, unknown>>(c.var.caller, 'invite_member', {
      vault_id: vaultIdParam(c.req.param('vaultId')), invitee_id: input.inviteeId, role: input.role,
      key_generation: input.keyGeneration, grants: input.grants.map(grantIn),
      ...(input.expiresInSeconds === undefined ? {} : { expires_in_seconds: input.expiresInSeconds }),
    });
    return jsonResponse({ invitation: camel(answer) }, 201);
  });

  app.post('/vaults/:vaultId/links', requireUser, jsonBody, async (c) => {
    const input = parse(S.link, await body(c.req.raw));
    const answer = await db.value<Record<string, unknown>>(c.var.caller, 'create_invite_link', {
      vault_id: vaultIdParam(c.req.param('vaultId')), token: input.token, role: input.role, key_generation: input.keyGeneration,
      grants: input.grants.map(grantIn), max_uses: input.maxUses ?? 1,
      ...(input.expiresInSeconds === undefined ? {} : { expires_in_seconds: input.expiresInSeconds }),
    });
    return jsonResponse({ link: camel(answer) }, 201);
  });

  app.post('/links/claim', requireUser, jsonBody, async (c) => {
    const input = parse(S.claim, await body(c.req.raw));
    return jsonResponse(camel(await db.value<Record<string, unknown>>(c.var.caller, 'claim_invite_link', { token: input.token })));
  });

  app.get('/invitations', requireUser, async (c) => {
    const rows = await db.rows<Record<string, unknown>>(c.var.caller, 'list_invitations', {});
    return jsonResponse({ invitations: rows.map(camel) });
  });

  app.post('/invitations/:id/accept', requireUser, async (c) => {
    const answer = await db.value<Record<string, unknown>>(c.var.caller, 'accept_invitation',
      { invitation_id: idParam(c.req.param('id'), 'invitationId') });
    return jsonResponse(camel(answer));
  });

  app.post('/invitations/:id/decline', requireUser, async (c) => {
    await db.value(c.var.caller, 'decline_invitation', { invitation_id: idParam(c.req.param('id'), 'invitationId') });
    return new Response(null, { status: 204 });
  });

  app.get('/vaults/:vaultId/grants', requireUser, async (c) => {
    const min = Number(c.req.query('minGeneration') ?? '1');
    if (!Number.isSafeInteger(min) || min < 1) throw badRequest('minGeneration must be an integer >= 1', 'minGeneration');
    const rows = await db.rows<Record<string, unknown>>(c.var.caller, 'list_key_grants',
      { vault_id: vaultIdParam(c.req.param('vaultId')), min_generation: min });
    return jsonResponse({ grants: rows.map(camel) });
  });

  app.post('/vaults/:vaultId/grants', requireUser, jsonBody, async (c) => {
    const input = parse(S.storeGrants, await body(c.req.raw));
    await db.value(c.var.caller, 'store_own_grants',
      { vault_id: vaultIdParam(c.req.param('vaultId')), grants: input.grants.map(grantIn) });
    return new Response(null, { status: 204 });
  });

  app.post('/vaults/:vaultId/rotate', requireUser, jsonBody, async (c) => {
    const input = parse(S.rotate, await body(c.req.raw));
    const answer = await db.value<Record<string, unknown>>(c.var.caller, 'rotate_vault_key', {
      vault_id: vaultIdParam(c.req.param('vaultId')), replaces_generation: input.replacesGeneration,
      grants: input.grants.map(grantIn),
      owner_key: input.ownerKey === undefined ? null
        : { encrypted_vault_key: input.ownerKey.encryptedVaultKey, salt: input.ownerKey.salt, nonce: input.ownerKey.nonce },
    });
    return jsonResponse(camel(answer));
  });

  // The membership chain: stored and sequence-checked by SQL, verified by the devices (docs/sharing.md).
  app.get('/vaults/:vaultId/chain', requireUser, async (c) => {
    const after = Number(c.req.query('afterSeq') ?? '-1');
    if (!Number.isSafeInteger(after) || after < -1) throw badRequest('afterSeq must be an integer >= -1', 'afterSeq');
    const rows = await db.rows<Record<string, unknown>>(c.var.caller, 'list_chain_links',
      { vault_id: vaultIdParam(c.req.param('vaultId')), after_seq: after });
    return jsonResponse({ links: rows.map((r) => ({ ...r, seq: Number(r.seq) })) });
  });

  app.post('/vaults/:vaultId/chain', requireUser, jsonBody, async (c) => {
    const input = parse(S.chainLink, await body(c.req.raw));
    const answer = await db.value<{ seq: number; hash: string }>(c.var.caller, 'append_chain_link',
      { vault_id: vaultIdParam(c.req.param('vaultId')), body: input.body, signature: input.signature });
    return jsonResponse({ seq: Number(answer.seq), hash: answer.hash }, 201);
  });
}
