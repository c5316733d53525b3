/** The wrapped vault keys: POST /vault-key, GET and PUT /vault-key/:vaultId (protocol.ts). */
import { jsonResponse } from '../../_shared/errors.ts';
import { body, db, jsonBody, one, requireUser, S, type SyncApp } from '../context.ts';
import { parse, vaultIdParam, type VaultKeyRow, vaultKeyOut } from '../protocol.ts';

export function registerVaultKeys(app: SyncApp) {
  app.post('/vault-key', requireUser, jsonBody, async (c) => {
    const input = parse(S.createVaultKey, await body(c.req.raw));
    const rows = await db.rows<VaultKeyRow>(c.var.caller, 'create_vault', {
      vault_id: input.vaultId, encrypted_vault_key: input.encryptedVaultKey, salt: input.salt, nonce: input.nonce,
    });
    return jsonResponse({ vaultKey: vaultKeyOut(one(rows)) }, 201);
  });

  app.get('/vault-key/:vaultId', requireUser, async (c) => {
    const vaultId = vaultIdParam(c.req.param('vaultId'));
    const rows = await db.rows<VaultKeyRow>(c.var.caller, 'get_vault_key', { vault_id: vaultId });
    return jsonResponse({ vaultKey: vaultKeyOut(one(rows)) });
  });

  app.put('/vault-key/:vaultId', requireUser, jsonBody, async (c) => {
    const vaultId = vaultIdParam(c.req.param('vaultId'));
    const input = parse(S.updateVaultKey, await body(c.req.raw));
    const rows = await db.rows<VaultKeyRow>(c.var.caller, 'update_vault_key', {
      vault_id: vaultId, encrypted_vault_key: input.encryptedVaultKey, salt: input.salt, nonce: input.nonce,
      if_updated_at: input.ifUpdatedAt,
    });
    return jsonResponse({ vaultKey: vaultKeyOut(one(rows)) });
  });
}
