/**
 * The SQL of encrypted files and quotas (issue 26), attacked at the database as Storage and PostgREST
 * run it: the storage.objects policies of bucket `vault-files` for every role and for removed members,
 * revoked sessions, strangers and anon; register_file's checks; delete_vault while objects remain;
 * quotas on pushes and uploads and who may set them. (tests/files-client.test.ts runs the same
 * through the client and the real Storage routes.)
 */
import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { join, newMember } from './support/sharing-fixtures.ts';
import { createVault, entry, expectError } from './support/sql-fixtures.ts';
import { adminSql, asRole, asUser, newUser, rpc, sessionIdOf, stack } from './support/stack.ts';

let owner: StackUser, writer: StackUser, reader: StackUser, removed: StackUser, stranger: StackUser;
let vaultId: string;

const objectName = (vault: string, file = randomUUID(), part = 'header') => `${vault}/${file}/${part}`;

/** Inserts an object row as Storage does for an upload (under the caller's role and RLS), in a rolled-back transaction. */
const tryInsert = (user: StackUser, name: string) => asUser(user, async (sql) => {
  await sql`insert into storage.objects (bucket_id, name, owner_id, metadata) values ('vault-files', ${name}, ${user.id}, '{"size": 73}')`;
  return 'stored';
}).catch((error: postgres.PostgresError) => error.code);

async function storeObject(name: string, size: number) {
  await adminSql()`insert into storage.objects (bucket_id, name, metadata) values ('vault-files', ${name}, ${adminSql().json({ size })})`;
}

beforeAll(async () => {
  [owner, writer, reader, removed, stranger] = await Promise.all(['owner', 'writer', 'reader', 'removed', 'stranger'].map(newMember)) as
    [StackUser, StackUser, StackUser, StackUser, StackUser];
  ({ vault_id: vaultId } = await createVault(owner));
  await join(owner, vaultId, writer, 'writer');
  await join(owner, vaultId, reader, 'reader');
  await join(owner, vaultId, removed, 'writer');
  expect((await rpc('remove_member', { vault_id: vaultId, user_id: removed.id }, owner.access_token)).status).toBe(204);
});

describe('storage.objects policies of bucket vault-files', () => {
  it('the bucket exists, private, limited to one sealed chunk of application/octet-stream', async () => {
    const [bucket] = await adminSql()`select public, file_size_limit::int, allowed_mime_types from storage.buckets where id = 'vault-files'`;
    expect(bucket).toEqual({ public: false, file_size_limit: 17 * 1024 * 1024, allowed_mime_types: ['application/octet-stream'] });
  });

  it('owner and writer add objects; reader, removed member, stranger and anon cannot; a name outside a vault folder is refused', async () => {
    const name = objectName(vaultId);
    expect(await tryInsert(owner, name)).toBe('stored');
    expect(await tryInsert(writer, name)).toBe('stored');
    for (const user of [reader, removed, stranger]) expect(await tryInsert(user, objectName(vaultId))).toBe('42501');
    expect(await tryInsert(writer, `not-a-vault/${randomUUID()}/header`)).toBe('42501');
    const anon = await asRole('anon', {}, async (sql) => {
      await sql`insert into storage.objects (bucket_id, name) values ('vault-files', ${objectName(vaultId)})`;
    }).catch((error: postgres.PostgresError) => error.code);
    expect(anon).toBe('42501');
  });

  it('members read, others see nothing; writers remove, readers cannot', async () => {
    const name = objectName(vaultId);
    await storeObject(name, 100);
    const visible = (user: StackUser) => asUser(user, async (sql) =>
      (await sql`select name from storage.objects where bucket_id = 'vault-files' and name = ${name}`).length);
    expect(await Promise.all([owner, writer, reader, removed, stranger].map(visible))).toEqual([1, 1, 1, 0, 0]);
    // as Storage removes: with storage.allow_delete_query set (its guard against deletes from elsewhere)
    const removes = (user: StackUser) => asUser(user, async (sql) => {
      await sql`select set_config('storage.allow_delete_query', 'true', true)`;
      return (await sql`delete from storage.objects where bucket_id = 'vault-files' and name = ${name} returning name`).length;
    });
    expect(await Promise.all([reader, removed, stranger].map(removes))).toEqual([0, 0, 0]);
    expect(await removes(writer)).toBe(1); // rolled back: the object stays for the next test
  });

  it('a revoked session reaches nothing (PT401)', async () => {
    const revoked = await newMember('revoked');
    await join(owner, vaultId, revoked, 'writer');
    await adminSql()`delete from auth.sessions where id = ${sessionIdOf(revoked)}`;
    expect(await tryInsert(revoked, objectName(vaultId))).toBe('PT401');
  });

  it('once the owner prepares the deletion no object is added; delete_vault refuses while objects remain', async () => {
    const { vault_id } = await createVault(owner);
    await join(owner, vault_id, writer, 'writer');
    const name = objectName(vault_id);
    await storeObject(name, 10);
    expectError(await rpc('prepare_vault_deletion', { vault_id }, writer.access_token), 403, 'PT403');
    expect((await rpc('prepare_vault_deletion', { vault_id }, owner.access_token)).status).toBe(204);
    expect(await tryInsert(writer, objectName(vault_id))).toBe('42501');
    const refused = await rpc('delete_vault', { vault_id }, owner.access_token);
    expect({ status: refused.status, hint: refused.body.hint }).toEqual({ status: 409, hint: 'vault_files_remain' });
    await adminSql().begin(async (sql) => {
      await sql`select set_config('storage.allow_delete_query', 'true', true)`;
      await sql`delete from storage.objects where name = ${name}`;
    });
    expect((await rpc('delete_vault', { vault_id }, owner.access_token)).status).toBe(204);
  });
});

describe('register_file, forget_file and vault_files', () => {
  it('registers a file only when its header and chunks 0..n-1 are stored, counting their bytes; members read the record', async () => {
    const fileId = randomUUID();
    await storeObject(objectName(vaultId, fileId), 73);
    await storeObject(objectName(vaultId, fileId, 'c/0000000000'), 1000);
    const early = await rpc('register_file', { vault_id: vaultId, file_id: fileId, size: 1900, chunk_count: 2 }, writer.access_token);
    expect({ status: early.status, hint: early.body.hint }).toEqual({ status: 409, hint: 'file_incomplete' });
    await storeObject(objectName(vaultId, fileId, 'c/0000000001'), 928);
    expectError(await rpc('register_file', { vault_id: vaultId, file_id: fileId, size: 1900, chunk_count: 2 }, reader.access_token), 403, 'PT403');
    expectError(await rpc('register_file', { vault_id: vaultId, file_id: fileId, size: -1, chunk_count: 2 }, writer.access_token), 400, 'PT400', 'size');
    const done = await rpc('register_file', { vault_id: vaultId, file_id: fileId, size: 1900, chunk_count: 2 }, writer.access_token);
    expect(done.status).toBe(200);
    expect(done.body[0]).toMatchObject({ file_id: fileId, size: 1900, chunk_count: 2, stored_bytes: 2001 });
    const again = await rpc('register_file', { vault_id: vaultId, file_id: fileId, size: 1900, chunk_count: 2 }, writer.access_token);
    expect(again.body[0].created_at).toBe(done.body[0].created_at);
    const seen = async (user: StackUser) => (await rpc<any[]>('list_vault_usage', {}, user.access_token)).body.find((v) => v.vault_id === vaultId);
    expect((await seen(reader)).file_bytes).toBeGreaterThanOrEqual(2001);
    expect(await seen(stranger)).toBeUndefined();
    const rows = (user: StackUser) => asUser(user, async (sql) => (await sql`select file_id from public.vault_files where file_id = ${fileId}`).length);
    expect(await Promise.all([owner, reader, removed, stranger].map(rows))).toEqual([1, 1, 0, 0]);

    const before = (await seen(owner)).file_bytes;
    expectError(await rpc('forget_file', { vault_id: vaultId, file_id: fileId }, reader.access_token), 403, 'PT403');
    expect((await rpc('forget_file', { vault_id: vaultId, file_id: fileId }, writer.access_token)).status).toBe(204);
    expect((await seen(owner)).file_bytes).toBe(before - 2001);
    expect(await rows(owner)).toBe(0);
  });
});

describe('quotas', () => {
  it('only the service role sets quotas', async () => {
    for (const token of [owner.access_token, undefined]) {
      expect((await rpc('set_vault_quota', { vault_id: vaultId, quota_bytes: 1 }, token)).status).toBeGreaterThanOrEqual(401);
      expect((await rpc('set_default_vault_quota', { quota_bytes: 1 }, token)).status).toBeGreaterThanOrEqual(401);
    }
    const [row] = await adminSql()`select count(*)::int as n from private.vault_quotas where vault_id = ${vaultId}`;
    expect(row!.n).toBe(0);
  });

  it('a push past the quota is refused with 413 quota_exceeded and stores nothing; uploads are checked too', async () => {
    const user = await newUser('quota');
    const { vault_id } = await createVault(user);
    const set = await rpc('set_vault_quota', { vault_id, quota_bytes: 3000 }, stack.SERVICE_ROLE_KEY, stack.SERVICE_ROLE_KEY);
    expect(set.status).toBe(204);
    expect((await rpc('push_logs', { vault_id, logs: [entry({ encrypted_data: 'A'.repeat(1000) })] }, user.access_token)).status).toBe(200);
    const refused = await rpc('push_logs', { vault_id, logs: [entry({ encrypted_data: 'A'.repeat(2400) })] }, user.access_token);
    expect({ status: refused.status, code: refused.body.code, hint: refused.body.hint }).toEqual({ status: 413, code: 'PT413', hint: 'quota_exceeded' });
    const [vault] = await adminSql()`select last_sequence::int from public.vaults where id = ${vault_id}`;
    expect(vault!.last_sequence).toBe(1);

    const used = (await rpc<any[]>('list_vault_usage', {}, user.access_token)).body.find((v) => v.vault_id === vault_id);
    expect(used).toMatchObject({ quota_bytes: 3000, file_bytes: 0 });
    expect(used.used_bytes).toBeGreaterThan(1000);
    expect((await rpc('check_vault_quota', { vault_id, bytes: 3000 - used.used_bytes }, user.access_token)).status).toBe(204);
    const upload = await rpc('check_vault_quota', { vault_id, bytes: 3001 - used.used_bytes }, user.access_token);
    expect({ status: upload.status, hint: upload.body.hint, details: upload.body.details }).toEqual({ status: 413, hint: 'quota_exceeded', details: 'bytes' });
    // objects in Storage count, registered or not
    await storeObject(objectName(vault_id), 500);
    expect((await rpc('check_vault_quota', { vault_id, bytes: 3001 - used.used_bytes - 500 }, user.access_token)).status).toBe(413);
    // the INSERT policy: an object whose declared size (Storage's metadata.contentLength) passes the quota is refused
    const declared = (size: number | null) => asUser(user, async (sql) => {
      const metadata = size === null ? {} : { contentLength: size };
      await sql`insert into storage.objects (bucket_id, name, owner_id, metadata) values ('vault-files', ${objectName(vault_id)}, ${user.id}, ${sql.json(metadata)})`;
      return 'stored';
    }).catch((error: postgres.PostgresError) => error.code);
    const room = 3000 - used.used_bytes - 500;
    expect(await declared(room)).toBe('stored');
    expect(await declared(room + 1)).toBe('42501');
    expect(await declared(null)).toBe('42501'); // no declared size: the bucket's largest object is assumed
    // null: back to the default (config.toml's, 10 GiB)
    await rpc('set_vault_quota', { vault_id, quota_bytes: null }, stack.SERVICE_ROLE_KEY, stack.SERVICE_ROLE_KEY);
    expect((await rpc<any[]>('list_vault_usage', {}, user.access_token)).body.find((v) => v.vault_id === vault_id).quota_bytes).toBe(10737418240);
  });
});
