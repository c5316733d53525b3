/** Shared fixtures of the SQL API tests: valid inputs, a vault of a user, what the superuser sees. */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { StackUser } from '../../stack/users.ts';
import { adminSql, rpc, sessionIdOf } from './stack.ts';

export const b64 = (bytes: number) => randomBytes(bytes).toString('base64');
/** A base64 string of exactly `chars` characters (chars must be a multiple of 4). */
export const b64chars = (chars: number) => 'A'.repeat(chars);

export function entry(overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    encrypted_data: b64(96),
    nonce: b64(12),
    haex_timestamp: `${Date.now()}-0001-${randomUUID().slice(0, 8)}`,
    device_id: 'device-1',
    ...overrides,
  };
}

export const newKey = () => ({ encrypted_vault_key: b64(60), salt: b64(16), nonce: b64(12) });

export async function createVault(user: StackUser) {
  const vault_id = randomUUID();
  const res = await rpc('create_vault', { vault_id, ...newKey() }, user.access_token);
  expect(res.status).toBe(200);
  return { vault_id, key: res.body[0] as KeyRow };
}

export interface KeyRow {
  vault_id: string; encrypted_vault_key: string; salt: string; nonce: string; created_at: string; updated_at: string;
}
export interface PushResult { last_sequence: number; results: { id: string; sequence: number; duplicate: boolean }[] }

/** What the superuser sees of a vault: its row and its logs. */
export async function vaultState(vaultId: string) {
  const sql = adminSql();
  const [vault] = await sql`select last_sequence::int, bytes::int, updated_at from public.vaults where id = ${vaultId}`;
  const logs = await sql`select sequence::int, id, author_id, device_id, encrypted_data, nonce, haex_timestamp
                         from public.sync_logs where vault_id = ${vaultId} order by sequence`;
  return { vault, logs };
}

export function expectError(res: { status: number; body: any }, status: number, code: string, details?: string) {
  expect({ status: res.status, code: res.body?.code, ...(details !== undefined ? { details: res.body?.details } : {}) })
    .toEqual({ status, code, ...(details !== undefined ? { details } : {}) });
}

/** The device id push_logs stores as device_id for this user's session (registered by its first push). */
export async function deviceIdOf(user: StackUser): Promise<string | undefined> {
  const [row] = await adminSql()`select id from public.devices where session_id = ${sessionIdOf(user)}`;
  return row?.id;
}
