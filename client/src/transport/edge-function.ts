/**
 * edgeFunctionTransport: the `sync` Edge Function (functions/sync, docs/http-api.md), camelCase JSON:
 *   POST /vault-key, GET|PUT /vault-key/:vaultId, GET /vaults, DELETE /vaults/:vaultId, POST /push, POST /pull,
 *   POST /compact, POST|GET /devices, DELETE /devices/:deviceId
 * Auth: `Authorization: Bearer <user JWT>`.
 *
 * Two ways to reach it:
 *   edgeFunctionTransport(supabase)                         via supabase.functions.invoke('sync/...'):
 *                                                           the client's session or global headers authorise
 *   edgeFunctionTransport({ url, accessToken, apikey? })    plain fetch to `url` (…/functions/v1/sync)
 *
 * Error mapping: status 404 -> NotFoundError, 409 -> ConflictError (code `vault_deleted` ->
 * VaultDeletedError, `cursor_ahead` -> CursorAheadError), 400/413 -> ValidationError
 * (field from `error.details`: the first `{ field }` of a schema error, or the field path string
 * of an SQL error), network failures, 408, 429, 502, 503 and 504 -> TransportError{retryable: true,
 * retryAfterMs from Retry-After}, 401 -> SessionRevokedError, ApiKeyError (the gateway refused the apikey)
 * or UnauthorizedError, anything else (403, 500, ...) -> TransportError{retryable: false}.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import type { DeviceInfo, DeviceTransport } from '../devices.ts';
import { apiKeyCode, errorFromStatus, parseRetryAfter, TransportError } from '../errors.ts';
import { type CompactResult, isCompactStatus, type PullResult, type PushResult, type SyncTransport, type VaultKeyRecord, type VaultSummary } from './types.ts';

export interface EdgeFunctionEndpoint {
  /** The function's URL, e.g. `${SUPABASE_URL}/functions/v1/sync`. */
  url: string;
  /** The user's access token (called before every request, so it may refresh). */
  accessToken: () => string | Promise<string>;
  /** Sent as `apikey` (the gateway of hosted Supabase wants the anon key). */
  apikey?: string;
  fetch?: typeof fetch;
}

type Send = (method: string, path: string, body?: unknown) => Promise<Response>;

const isSupabaseClient = (value: unknown): value is SupabaseClient<any, any, any> =>
  typeof (value as SupabaseClient)?.functions?.invoke === 'function';

function fieldOf(details: unknown, message: string): string | undefined {
  if (typeof details === 'string' && details !== '') return details;
  if (Array.isArray(details) && typeof details[0]?.field === 'string' && details[0].field !== '') return details[0].field;
  const prefix = /^([A-Za-z_][\w.[\]]*)(?: \(path\))?:/.exec(message);
  return prefix?.[1];
}

async function failFrom(what: string, response: Response): Promise<never> {
  const text = await response.text().catch(() => '');
  let code = `http_${response.status}`;
  let message = text.slice(0, 300) || response.statusText;
  let details: unknown;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown }; message?: unknown };
    const keyRefused = apiKeyCode(response.status, parsed?.message); // the gateway's own answer: { message, hint }
    if (keyRefused) {
      code = keyRefused;
      message = parsed.message as string;
    } else if (parsed?.error) {
      code = parsed.error.code ?? code;
      message = parsed.error.message ?? message;
      details = parsed.error.details;
    }
  } catch { /* not JSON */ }
  throw errorFromStatus(response.status, code, `${what}: ${message}`, fieldOf(details, message), details,
    parseRetryAfter(response.headers.get('retry-after')));
}

function viaInvoke(supabase: SupabaseClient<any, any, any>): Send {
  return async (method, path, body) => {
    const answer = await supabase.functions.invoke(`sync${path}`, {
      method: method as 'GET' | 'POST' | 'PUT' | 'DELETE',
      ...(body === undefined ? {} : { body: body as Record<string, unknown> }),
    });
    if (!answer.error) return new Response(answer.data === null || answer.data === undefined || answer.data === ''
      ? null : JSON.stringify(answer.data), { status: answer.response?.status ?? 200 });
    const context = (answer.error as { context?: unknown }).context;
    if (context instanceof Response) return context;
    const status = answer.error.name === 'FunctionsRelayError' ? 502 : 0;
    throw new TransportError(`${method} ${path}: ${answer.error.message}`, status, status ? 'relay_error' : 'network',
      true, undefined, undefined, { cause: answer.error });
  };
}

function viaFetch(endpoint: EdgeFunctionEndpoint): Send {
  const base = endpoint.url.replace(/\/+$/, '');
  const doFetch = endpoint.fetch ?? globalThis.fetch;
  return async (method, path, body) => {
    const headers: Record<string, string> = { authorization: `Bearer ${await endpoint.accessToken()}` };
    if (endpoint.apikey) headers.apikey = endpoint.apikey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await doFetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (cause) {
      throw new TransportError(`${method} ${path}: ${(cause as Error)?.message ?? String(cause)}`, 0, 'network', true,
        undefined, undefined, { cause });
    }
  };
}

export function edgeFunctionTransport(target: SupabaseClient<any, any, any> | EdgeFunctionEndpoint): SyncTransport & DeviceTransport {
  const send = isSupabaseClient(target) ? viaInvoke(target) : viaFetch(target);
  async function request<T>(method: string, path: string, body?: unknown, expect = 200): Promise<T> {
    const response = await send(method, path, body);
    if (!response.ok) {
      await failFrom(`${method} ${path.replace(/^(\/vault-key|\/vaults)\/[^/]+$/, '$1/:vaultId').replace(/^\/devices\/[^/]+$/, '/devices/:deviceId')}`,
        response);
    }
    if (expect === 204 || response.status === 204) return undefined as T;
    try {
      return await response.json() as T;
    } catch (cause) {
      throw new TransportError(`${method} ${path}: answer is not JSON`, response.status, 'unexpected_answer', false,
        undefined, undefined, { cause });
    }
  }
  const key = (answer: { vaultKey?: VaultKeyRecord }): VaultKeyRecord => {
    if (!answer?.vaultKey) throw new TransportError('vault-key: unexpected answer', 502, 'unexpected_answer', false);
    return answer.vaultKey;
  };
  const enc = encodeURIComponent;
  return {
    name: 'edge-function',
    async createVault(vaultId, k) {
      return key(await request('POST', '/vault-key', { vaultId, ...pick(k) }));
    },
    async getVaultKey(vaultId) {
      return key(await request('GET', `/vault-key/${enc(vaultId)}`));
    },
    async updateVaultKey(vaultId, k, ifUpdatedAt) {
      return key(await request('PUT', `/vault-key/${enc(vaultId)}`, { ...pick(k), ifUpdatedAt }));
    },
    async listVaults(): Promise<VaultSummary[]> {
      return (await request<{ vaults: VaultSummary[] }>('GET', '/vaults')).vaults;
    },
    async deleteVault(vaultId) {
      await request('DELETE', `/vaults/${enc(vaultId)}`, undefined, 204);
    },
    async push(vaultId, logs): Promise<PushResult> {
      const answer = await request<PushResult>('POST', '/push', {
        vaultId,
        logs: logs.map((l) => {
          const out: Record<string, unknown> = { id: l.id, encryptedData: l.encryptedData, nonce: l.nonce,
            haexTimestamp: l.haexTimestamp };
          if (l.deviceId != null) out.deviceId = l.deviceId;
          if (l.recordKey != null) out.recordKey = l.recordKey;
          if (l.keyGeneration != null && l.keyGeneration !== 1) out.keyGeneration = l.keyGeneration;
          return out;
        }),
      });
      if (typeof answer?.lastSequence !== 'number' || !Array.isArray(answer.logs)) {
        throw new TransportError('POST /push: unexpected answer', 502, 'unexpected_answer', false);
      }
      const result: PushResult = { lastSequence: answer.lastSequence, logs: answer.logs };
      if (answer.compactionDue === true) result.compactionDue = true;
      return result;
    },
    // Devices (issue 19, devices.ts).
    async registerDevice(name) {
      const answer = await request<{ device?: DeviceInfo }>('POST', '/devices', name === null ? {} : { name });
      if (!answer?.device) throw new TransportError('POST /devices: unexpected answer', 502, 'unexpected_answer', false);
      return answer.device;
    },
    async listDevices() {
      return (await request<{ devices: DeviceInfo[] }>('GET', '/devices')).devices;
    },
    async revokeDevice(deviceId) {
      await request('DELETE', `/devices/${enc(deviceId)}`, undefined, 204);
    },
    async compact(vaultId): Promise<CompactResult> {
      const answer = await request<CompactResult>('POST', '/compact', { vaultId });
      if (typeof answer?.removed !== 'number' || typeof answer.remaining !== 'number' || !isCompactStatus(answer.status)) {
        throw new TransportError('POST /compact: unexpected answer', 502, 'unexpected_answer', false);
      }
      return { status: answer.status, removed: answer.removed, remaining: answer.remaining, complete: answer.complete === true,
        compactedThrough: typeof answer.compactedThrough === 'number' ? answer.compactedThrough : 0 };
    },
    async pull(vaultId, afterSequence, limit): Promise<PullResult> {
      const answer = await request<PullResult>('POST', '/pull', { vaultId, afterSequence, limit });
      if (!Array.isArray(answer?.logs) || typeof answer.hasMore !== 'boolean' || typeof answer.nextSequence !== 'number'
        || typeof answer.lastSequence !== 'number') {
        throw new TransportError('POST /pull: unexpected answer', 502, 'unexpected_answer', false);
      }
      return {
        logs: answer.logs.map((l) => ({ ...l, deviceId: l.deviceId ?? null })), hasMore: answer.hasMore,
        nextSequence: answer.nextSequence, lastSequence: answer.lastSequence,
        compactedThrough: typeof answer.compactedThrough === 'number' ? answer.compactedThrough : 0,
      };
    },
  };
}

const pick = (k: { encryptedVaultKey: string; salt: string; nonce: string }) =>
  ({ encryptedVaultKey: k.encryptedVaultKey, salt: k.salt, nonce: k.nonce });
