/**
 * The route table of the sync function: method + path pattern -> handler. Paths are relative to the
 * function (index.ts strips the leading `/sync`). A path that matches a pattern with another method
 * is a 405 with `Allow`; no pattern at all is a 404.
 */
import type { Caller } from '../_shared/auth.ts';
import { config, type SyncConfig } from '../_shared/config.ts';
import { RestDb, type SyncDb } from '../_shared/db.ts';
import { DirectDb } from '../_shared/db-direct.ts';
import { HttpError, jsonResponse, notFound } from '../_shared/errors.ts';
import { readJson } from '../_shared/http.ts';
import pkg from '../../package.json' with { type: 'json' };
import {
  type CompactAnswer, parse, pushLogsArgs, type PushAnswer, pushOut, schemas, vaultIdParam, type VaultKeyRow, vaultKeyOut, vaultOut,
  type VaultRow,
} from './protocol.ts';

export interface Context {
  request: Request;
  params: Record<string, string>;
}
type Handler = (ctx: Context) => Promise<Response> | Response;

interface Route {
  method: string;
  /** Segments; `:name` captures one segment. */
  pattern: string[];
  handler: Handler;
}

/** The database transport, chosen once at start (SYNC_DB_TRANSPORT; docs/http-api.md). */
const db: SyncDb = config.dbTransport === 'direct' ? new DirectDb(config) : new RestDb(config);
const S = schemas(config);

const body = (ctx: Context, cfg: SyncConfig = config) => readJson(ctx.request, cfg.maxBodyBytes);
const user = (ctx: Context): Promise<Caller> => db.authenticate(ctx.request.headers.get('authorization'));
const one = <T>(rows: T[]): T => {
  if (!Array.isArray(rows) || rows.length !== 1) throw new HttpError(500, 'internal', 'unexpected database answer');
  return rows[0]!;
};

const routes: Route[] = [];
const route = (method: string, path: string, handler: Handler) =>
  routes.push({ method, pattern: path.split('/').filter((s) => s !== ''), handler });

// Health: open to any JWT the gateway accepts (also the anon key), no database access.
route('GET', '/', () =>
  jsonResponse({ name: 'haex-sync-server', version: pkg.version, status: 'ok', env: config.env }));

route('POST', '/vault-key', async (ctx) => {
  const caller = await user(ctx);
  const input = parse(S.createVaultKey, await body(ctx));
  const rows = await db.rows<VaultKeyRow>(caller, 'create_vault', {
    vault_id: input.vaultId, encrypted_vault_key: input.encryptedVaultKey, salt: input.salt, nonce: input.nonce,
  });
  return jsonResponse({ vaultKey: vaultKeyOut(one(rows)) }, 201);
});

route('GET', '/vault-key/:vaultId', async (ctx) => {
  const caller = await user(ctx);
  const vaultId = vaultIdParam(ctx.params.vaultId!);
  const rows = await db.rows<VaultKeyRow>(caller, 'get_vault_key', { vault_id: vaultId });
  return jsonResponse({ vaultKey: vaultKeyOut(one(rows)) });
});

route('PUT', '/vault-key/:vaultId', async (ctx) => {
  const caller = await user(ctx);
  const vaultId = vaultIdParam(ctx.params.vaultId!);
  const input = parse(S.updateVaultKey, await body(ctx));
  const rows = await db.rows<VaultKeyRow>(caller, 'update_vault_key', {
    vault_id: vaultId, encrypted_vault_key: input.encryptedVaultKey, salt: input.salt, nonce: input.nonce,
    if_updated_at: input.ifUpdatedAt,
  });
  return jsonResponse({ vaultKey: vaultKeyOut(one(rows)) });
});

route('GET', '/vaults', async (ctx) => {
  const caller = await user(ctx);
  const rows = await db.rows<VaultRow>(caller, 'list_vaults', {});
  return jsonResponse({ vaults: rows.map(vaultOut) });
});

route('DELETE', '/vaults/:vaultId', async (ctx) => {
  const caller = await user(ctx);
  const vaultId = vaultIdParam(ctx.params.vaultId!);
  await db.value<null>(caller, 'delete_vault', { vault_id: vaultId });
  return new Response(null, { status: 204 });
});

route('POST', '/push', async (ctx) => {
  const caller = await user(ctx);
  const input = parse(S.push, await body(ctx));
  const answer = await db.value<PushAnswer>(caller, 'push_logs', pushLogsArgs(input));
  return jsonResponse(pushOut(answer));
});

// Compaction (compact_logs): removes the caller's superseded logs; answered as SQL gives it.
route('POST', '/compact', async (ctx) => {
  const caller = await user(ctx);
  const input = parse(S.compact, await body(ctx));
  const answer = await db.value<CompactAnswer>(caller, 'compact_logs', { vault_id: input.vaultId });
  return jsonResponse({ status: answer.status, removed: answer.removed, remaining: answer.remaining, complete: answer.complete,
    compactedThrough: answer.compacted_through });
});

route('POST', '/pull', async (ctx) => {
  const caller = await user(ctx);
  const input = parse(S.pull, await body(ctx));
  const page = await db.pull(caller, input);
  return new Response(page, { headers: { 'content-type': 'application/json; charset=utf-8' } });
});

/** Finds the handler, or throws 404 / 405 (with `Allow`). */
export function match(method: string, path: string): { handler: Handler; params: Record<string, string> } {
  const segments = path.split('/').filter((s) => s !== '');
  const allowed: string[] = [];
  for (const r of routes) {
    if (r.pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < segments.length; i++) {
      const part = r.pattern[i]!;
      if (part.startsWith(':')) params[part.slice(1)] = segments[i]!;
      else if (part !== segments[i]) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (r.method === method) return { handler: r.handler, params };
    allowed.push(r.method);
  }
  if (allowed.length === 0) throw notFound(`no route ${path}`);
  const allow = [...allowed, 'OPTIONS'].join(', ');
  throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allow}`, undefined,
    { allow });
}
