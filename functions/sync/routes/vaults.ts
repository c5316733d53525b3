/** The caller's vaults: GET /vaults, DELETE /vaults/:vaultId (protocol.ts). */
import { jsonResponse } from '../../_shared/errors.ts';
import { db, requireUser, type SyncApp } from '../context.ts';
import { vaultIdParam, type VaultRow, vaultOut } from '../protocol.ts';

export function registerVaults(app: SyncApp) {
  app.get('/vaults', requireUser, async (c) => {
    const rows = await db.rows<VaultRow>(c.var.caller, 'list_vaults', {});
    return jsonResponse({ vaults: rows.map(vaultOut) });
  });

  app.delete('/vaults/:vaultId', requireUser, async (c) => {
    const vaultId = vaultIdParam(c.req.param('vaultId'));
    await db.value<null>(c.var.caller, 'delete_vault', { vault_id: vaultId });
    return new Response(null, { status: 204 });
  });
}
