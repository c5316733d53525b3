/**
 * What the Storage tests share: unmodified supabase-js clients (service role, a user, anon) and a
 * test-only bucket per test with its own RLS policies on storage.objects, created in the test and
 * scoped to that bucket (each policy names its bucket, so it grants nothing elsewhere), so parallel
 * tests never see each other's objects. The throwaway stack's database goes with the policies.
 */
import { randomUUID } from 'node:crypto';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import type { StackUser } from '../../stack/users.ts';
import { adminSql, stack } from './stack.ts';

const clientOptions = {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: WebSocket as never },
};

export const serviceClient = (): SupabaseClient => createClient(stack.API_URL, stack.SERVICE_ROLE_KEY, clientOptions);
export const anonClient = (): SupabaseClient => createClient(stack.API_URL, stack.CLIENT_KEY, clientOptions);
/** A client signed in as `user` (its access token as the bearer, the project key as apikey). */
export const userClient = (user: StackUser): SupabaseClient => createClient(stack.API_URL, stack.CLIENT_KEY, {
  ...clientOptions, global: { headers: { Authorization: `Bearer ${user.access_token}` } },
});

export interface TestBucket {
  id: string;
}

/**
 * A bucket for one test, created by the service role. With `ownFolders`, RLS policies let an
 * authenticated user select, insert, update and delete objects of this bucket whose first folder is
 * their user id, and nothing else (anon: nothing), the usual Supabase pattern.
 */
export async function testBucket(options: {
  public?: boolean; fileSizeLimit?: number | string; allowedMimeTypes?: string[]; ownFolders?: boolean;
} = {}): Promise<TestBucket> {
  const id = `test-${randomUUID()}`;
  const { error } = await serviceClient().storage.createBucket(id, {
    public: options.public ?? false,
    ...(options.fileSizeLimit !== undefined ? { fileSizeLimit: options.fileSizeLimit } : {}),
    ...(options.allowedMimeTypes ? { allowedMimeTypes: options.allowedMimeTypes } : {}),
  });
  if (error) throw error;
  if (options.ownFolders ?? true) {
    const sql = adminSql();
    const rule = `bucket_id = '${id}' and (storage.foldername(name))[1] = (select auth.uid())::text`;
    await sql.unsafe(`
      create policy "${id} owners read" on storage.objects for select to authenticated using (${rule});
      create policy "${id} owners insert" on storage.objects for insert to authenticated with check (${rule});
      create policy "${id} owners update" on storage.objects for update to authenticated using (${rule}) with check (${rule});
      create policy "${id} owners delete" on storage.objects for delete to authenticated using (${rule});`);
  }
  return { id };
}

export const bytes = (size: number, seed = 1): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
};

export async function blobBytes(blob: Blob | null): Promise<Uint8Array> {
  if (!blob) throw new Error('no blob');
  return new Uint8Array(await blob.arrayBuffer());
}
