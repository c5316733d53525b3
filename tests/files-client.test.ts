/**
 * Encrypted files through the client library against the real stack and its Storage routes (issue
 * 26): two devices of one user, a shared vault with a writer and a reader, a removed member, a revoked
 * device, strangers; a chunk tampered with through the Storage API; an upload killed (SIGKILL) midway
 * and resumed; a quota hit on upload and push; deleteVault and compactFiles removing objects through
 * the Storage API. Chunks of 64 KiB keep the files small.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { SupabaseClient } from '@supabase/supabase-js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FileIntegrityError, FILES_BUCKET, ForbiddenError, HaexSyncClient, NotFoundError, QuotaExceededError, SessionRevokedError, type Vault,
} from '../client/src/index.ts';
import { PROJECT_ROOT } from '../stack/config.ts';
import type { StackUser } from '../stack/users.ts';
import { authClient, newEmail, newPassword } from './support/auth.ts';
import { fileBytes, supabaseClient } from './support/files.ts';
import { expiredTokenFor, forgedServiceKey, forgedTokenFor, newUser, stack } from './support/stack.ts';

const CHUNK = 64 * 1024;
const files = { chunkSize: CHUNK, concurrency: 2 };

async function signedIn(user: StackUser, fetchImpl?: typeof fetch): Promise<SupabaseClient> {
  const supabase = supabaseClient(stack.API_URL, stack.CLIENT_KEY, fetchImpl);
  const { error } = await supabase.auth.setSession({ access_token: user.access_token, refresh_token: user.refresh_token });
  expect(error).toBeNull();
  return supabase;
}

interface Person { user: StackUser; supabase: SupabaseClient; client: HaexSyncClient }
async function person(label: string, identity = true): Promise<Person> {
  const user = await newUser(label);
  const supabase = await signedIn(user);
  const client = HaexSyncClient.create({ supabase, files });
  if (identity) await client.unlockIdentity(`${label} secret`);
  return { user, supabase, client };
}

const service = () => supabaseClient(stack.API_URL, stack.SERVICE_ROLE_KEY);
/** Every object name under a folder, as the service role lists them (pages of 1,000). */
async function objectsUnder(folder: string): Promise<string[]> {
  const { data, error } = await service().storage.from(FILES_BUCKET).list(folder, { limit: 1000 });
  expect(error).toBeNull();
  const out: string[] = [];
  for (const entry of data ?? []) {
    if (entry.id === null) out.push(...await objectsUnder(`${folder}/${entry.name}`));
    else out.push(`${folder}/${entry.name}`);
  }
  return out;
}
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  return Buffer.concat(parts);
}

let owner: Person, writer: Person, reader: Person, stranger: Person;
let shared: Vault, asWriter: Vault, asReader: Vault;

beforeAll(async () => {
  [owner, writer, reader, stranger] = await Promise.all([person('owner'), person('writer'), person('reader'), person('stranger')]);
  shared = await owner.client.createVault('owner vault password');
  await shared.invite({ email: writer.user.email, role: 'writer' });
  await shared.invite({ email: reader.user.email, role: 'reader' });
  asWriter = await writer.client.acceptInvite((await writer.client.invitations())[0]!.id);
  asReader = await reader.client.acceptInvite((await reader.client.invitations())[0]!.id);
});

describe('encrypted files through the client and the Storage API', () => {
  it('two devices of one user: put on one, list, get and stream on the other, delete for both', async () => {
    const email = newEmail('files-devices');
    const password = newPassword();
    expect((await authClient().auth.signUp({ email, password })).error).toBeNull();
    const laptop = { client: HaexSyncClient.create({ supabase: await signInWith(email, password), files }) };
    const phone = HaexSyncClient.create({ supabase: await signInWith(email, password), files });
    const vault = await laptop.client.createVault('vault password');
    const data = fileBytes(2 * CHUNK + 1234, 1);
    const progress: Array<[number, number | undefined]> = [];
    const { fileId, size } = await vault.putFile(new Blob([data]), { onProgress: (done, total) => progress.push([done, total]) });
    expect(size).toBe(data.length);
    expect(progress.at(-1)).toEqual([data.length, data.length]);
    expect((await objectsUnder(`${vault.vaultId}/${fileId}`)).sort()).toEqual(
      [`${vault.vaultId}/${fileId}/c/0000000000`, `${vault.vaultId}/${fileId}/c/0000000001`, `${vault.vaultId}/${fileId}/c/0000000002`,
        `${vault.vaultId}/${fileId}/header`]);

    const other = await phone.unlockVault(vault.vaultId, 'vault password');
    expect(phone.device!.id).not.toBe(laptop.client.device!.id); // two sessions, two devices
    expect((await other.files()).map((f) => ({ fileId: f.fileId, size: f.size }))).toEqual([{ fileId, size: data.length }]);
    expect(Date.parse((await other.files())[0]!.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(Buffer.from(await other.getFile(fileId)).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(await readAll(await other.openFile(fileId))).equals(Buffer.from(data))).toBe(true);
    // a stream in, of unknown length
    const streamed = await other.putFile(new Blob([data]).stream());
    expect(Buffer.from(await vault.getFile(streamed.fileId)).equals(Buffer.from(data))).toBe(true);

    await other.deleteFile(fileId);
    await expect(vault.getFile(fileId)).rejects.toBeInstanceOf(NotFoundError);
    expect(await objectsUnder(`${vault.vaultId}/${fileId}`)).toEqual([]);
    await expect(vault.deleteFile(fileId)).rejects.toBeInstanceOf(NotFoundError);
    await expect(vault.getFile(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a shared vault: the writer puts, the reader reads but cannot put or delete, strangers see nothing', async () => {
    const data = fileBytes(CHUNK + 5, 2);
    const { fileId } = await asWriter.putFile(data);
    expect(Buffer.from(await asReader.getFile(fileId)).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(await shared.getFile(fileId)).equals(Buffer.from(data))).toBe(true);
    await expect(asReader.putFile(fileBytes(10))).rejects.toBeInstanceOf(ForbiddenError);
    await expect(asReader.deleteFile(fileId)).rejects.toBeInstanceOf(ForbiddenError);
    // the reader straight at the Storage API: no upload, no removal
    const chunk = `${shared.vaultId}/${fileId}/c/0000000000`;
    const up = await reader.supabase.storage.from(FILES_BUCKET).upload(`${shared.vaultId}/${randomUUID()}/header`, new Uint8Array(73),
      { contentType: 'application/octet-stream' });
    expect(up.error).not.toBeNull();
    await reader.supabase.storage.from(FILES_BUCKET).remove([chunk]);
    expect(await objectsUnder(`${shared.vaultId}/${fileId}/c`)).toContain(chunk);
    // a stranger: no record, no object, no listing
    const download = await stranger.supabase.storage.from(FILES_BUCKET).download(chunk);
    expect(download.data).toBeNull();
    const listing = await stranger.supabase.storage.from(FILES_BUCKET).list(`${shared.vaultId}/${fileId}/c`);
    expect(listing.data ?? []).toEqual([]);
    const strangerUp = await stranger.supabase.storage.from(FILES_BUCKET).upload(`${shared.vaultId}/${randomUUID()}/header`,
      new Uint8Array(73), { contentType: 'application/octet-stream' });
    expect(strangerUp.error).not.toBeNull();
    const anon = supabaseClient(stack.API_URL, stack.CLIENT_KEY);
    expect((await anon.storage.from(FILES_BUCKET).download(chunk)).data).toBeNull();
  });

  it('expired and forged tokens of a member, and a forged service key, get nothing from vault-files', async () => {
    const { fileId } = await shared.putFile(fileBytes(100, 6));
    const chunk = `${shared.vaultId}/${fileId}/c/0000000000`;
    const attempt = async (token: string) => {
      const get = await fetch(`${stack.API_URL}/storage/v1/object/${FILES_BUCKET}/${chunk}`,
        { headers: { apikey: stack.CLIENT_KEY, authorization: `Bearer ${token}` } });
      const put = await fetch(`${stack.API_URL}/storage/v1/object/${FILES_BUCKET}/${shared.vaultId}/${randomUUID()}/header`, {
        method: 'POST', body: new Uint8Array(73),
        headers: { apikey: stack.CLIENT_KEY, authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      });
      return [get.ok, put.ok];
    };
    expect(await attempt(reader.user.access_token)).toEqual([true, false]); // the control: the reader reads, cannot write
    for (const token of [expiredTokenFor(writer.user), forgedTokenFor(writer.user), forgedServiceKey()]) {
      expect(await attempt(token)).toEqual([false, false]);
    }
    expect(await objectsUnder(`${shared.vaultId}/${fileId}`)).toHaveLength(2);
  });

  it('a removed member loses the files at once; files of the old key generation stay readable after the rotation', async () => {
    const leaving = await person('leaving');
    await shared.invite({ email: leaving.user.email, role: 'writer' });
    const theirs = await leaving.client.acceptInvite((await leaving.client.invitations())[0]!.id);
    const data = fileBytes(3000, 3);
    const { fileId } = await theirs.putFile(data);
    const generation = shared.keyGeneration;
    await shared.removeMember(leaving.user.id);
    expect(shared.keyGeneration).toBe(generation + 1);
    await expect(theirs.getFile(fileId)).rejects.toBeInstanceOf(NotFoundError);
    expect((await leaving.supabase.storage.from(FILES_BUCKET).download(`${shared.vaultId}/${fileId}/header`)).data).toBeNull();
    await expect(theirs.putFile(fileBytes(10))).rejects.toBeInstanceOf(NotFoundError);
    // the others read the file written under the old generation, and write new ones under the new
    expect(Buffer.from(await asReader.getFile(fileId)).equals(Buffer.from(data))).toBe(true);
    const fresh = await shared.putFile(fileBytes(100, 4));
    expect(Buffer.from(await asWriter.getFile(fresh.fileId)).equals(Buffer.from(fileBytes(100, 4)))).toBe(true);
  });

  it('a revoked device: its next file call raises SessionRevokedError, and Storage refuses its token', async () => {
    const email = newEmail('files-revoked');
    const password = newPassword();
    expect((await authClient().auth.signUp({ email, password })).error).toBeNull();
    const [laptopAuth, phoneAuth] = await Promise.all([signInWith(email, password), signInWith(email, password)]);
    const laptop = HaexSyncClient.create({ supabase: laptopAuth, files });
    const phone = HaexSyncClient.create({ supabase: phoneAuth, files });
    const user = { client: laptop };
    const vault = await laptop.createVault('pw');
    const { fileId } = await vault.putFile(fileBytes(500));
    const phoneVault = await phone.unlockVault(vault.vaultId, 'pw');
    expect((await phoneVault.getFile(fileId)).length).toBe(500);
    await user.client.revokeDevice(phone.device!.id);
    await expect(phoneVault.getFile(fileId)).rejects.toBeInstanceOf(SessionRevokedError);
    await expect(phoneVault.putFile(fileBytes(10))).rejects.toBeInstanceOf(SessionRevokedError);
    await expect(phoneVault.files()).rejects.toBeInstanceOf(SessionRevokedError);
    expect((await phoneAuth.storage.from(FILES_BUCKET).download(`${vault.vaultId}/${fileId}/header`)).data).toBeNull();
    expect((await vault.getFile(fileId)).length).toBe(500);
  });

  it('a chunk tampered with in Storage: FileIntegrityError from getFile and from the stream, never bytes', async () => {
    const data = fileBytes(3 * CHUNK, 5);
    const { fileId } = await shared.putFile(data);
    const storage = service().storage.from(FILES_BUCKET);
    const path1 = `${shared.vaultId}/${fileId}/c/0000000001`;
    const original = new Uint8Array(await (await storage.download(path1)).data!.arrayBuffer());
    const altered = original.slice();
    altered[100]! ^= 1;
    expect((await storage.upload(path1, altered, { upsert: true, contentType: 'application/octet-stream' })).error).toBeNull();
    await expect(asReader.getFile(fileId)).rejects.toBeInstanceOf(FileIntegrityError);
    const stream = await asReader.openFile(fileId);
    const reader = stream.getReader();
    expect(Buffer.from((await reader.read()).value!).equals(Buffer.from(data.subarray(0, CHUNK)))).toBe(true); // chunk 0 is intact
    await expect(reader.read()).rejects.toBeInstanceOf(FileIntegrityError);
    // chunk 2 put in chunk 1's place: still refused
    const chunk2 = new Uint8Array(await (await storage.download(`${shared.vaultId}/${fileId}/c/0000000002`)).data!.arrayBuffer());
    await storage.upload(path1, chunk2, { upsert: true, contentType: 'application/octet-stream' });
    await expect(asReader.getFile(fileId)).rejects.toBeInstanceOf(FileIntegrityError);
    await storage.upload(path1, original, { upsert: true, contentType: 'application/octet-stream' });
    expect(Buffer.from(await asReader.getFile(fileId)).equals(Buffer.from(data))).toBe(true);
  });

  it('an upload killed (SIGKILL) midway and restarted with the same fileId sends only the chunks not stored yet', async () => {
    const user = await person('killed', false);
    const vault = await user.client.createVault('pw');
    const fileId = randomUUID();
    const size = 40 * CHUNK + 7;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'tests', 'support', 'files-upload-child.ts')], {
      cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, SUPABASE_URL: stack.API_URL, SUPABASE_KEY: stack.CLIENT_KEY, ACCESS_TOKEN: user.user.access_token,
        REFRESH_TOKEN: user.user.refresh_token, VAULT_ID: vault.vaultId, VAULT_PASSWORD: 'pw', FILE_ID: fileId, FILE_SIZE: String(size) },
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (data: Buffer) => {
        out += data.toString();
        if ((out.match(/^stored /gm) ?? []).length >= 3) { child.kill('SIGKILL'); resolve(); }
        if (out.includes('done')) reject(new Error('the upload finished before it could be killed'));
      });
      child.on('exit', () => resolve());
    });
    expect(await exited).toBe('SIGKILL');
    await expect(vault.getFile(fileId)).rejects.toBeInstanceOf(NotFoundError);
    const storedBefore = (await objectsUnder(`${vault.vaultId}/${fileId}/c`)).length;
    expect(storedBefore).toBeGreaterThanOrEqual(3);
    expect(storedBefore).toBeLessThan(41);

    const sent: string[] = [];
    const counting: typeof fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
      if (method !== 'GET' && url.includes(`/storage/v1/object/${FILES_BUCKET}/`)) sent.push(url.slice(url.indexOf(vault.vaultId)));
      return fetch(input, init);
    };
    const resumed = HaexSyncClient.create({ supabase: await signedIn(user.user, counting), files });
    const again = await resumed.unlockVault(vault.vaultId, 'pw');
    expect(await again.putFile(fileBytes(size), { fileId })).toEqual({ fileId, size });
    expect(sent.length).toBe(41 - storedBefore);
    expect(sent.every((p) => p.includes('/c/'))).toBe(true);
    expect(Buffer.from(await vault.getFile(fileId)).equals(Buffer.from(fileBytes(size)))).toBe(true);
  });

  it('a quota hit: an upload or push past it is refused with quota_exceeded before anything is stored; deletion gives space back', async () => {
    const user = await person('quota', false);
    const vault = await user.client.createVault('pw');
    await vault.push([{ data: { n: 1 }, haexTimestamp: `${Date.now()}-1` }]);
    const set = await service().rpc('set_vault_quota', { vault_id: vault.vaultId, quota_bytes: 3 * CHUNK });
    expect(set.error).toBeNull();
    const { fileId } = await vault.putFile(fileBytes(2 * CHUNK));
    const before = (await user.client.listVaults()).find((v) => v.vaultId === vault.vaultId)!;
    expect(before).toMatchObject({ quotaBytes: 3 * CHUNK, fileBytes: 2 * CHUNK + 2 * 28 + 73 });
    expect(before.usedBytes).toBe(before.bytes + before.fileBytes!);

    const big = randomUUID();
    const refused = await vault.putFile(fileBytes(CHUNK + 1), { fileId: big }).catch((e) => e);
    expect(refused).toBeInstanceOf(QuotaExceededError);
    expect(refused.code).toBe('quota_exceeded');
    const streamed = await vault.putFile(new Blob([fileBytes(CHUNK + 1)]).stream(), { fileId: randomUUID() }).catch((e) => e);
    expect(streamed).toBeInstanceOf(QuotaExceededError);
    expect(await objectsUnder(vault.vaultId)).toHaveLength(3); // only the first file's header and 2 chunks
    // straight at the Storage API, past the client: the INSERT policy refuses it before a byte is stored
    const direct = await user.supabase.storage.from(FILES_BUCKET).upload(`${vault.vaultId}/${big}/header`, new Uint8Array(CHUNK + 1),
      { contentType: 'application/octet-stream' });
    expect(direct.error).not.toBeNull();
    expect(await objectsUnder(vault.vaultId)).toHaveLength(3);
    const push = await vault.push([{ data: { blob: 'x'.repeat(CHUNK) }, haexTimestamp: `${Date.now()}-2` }]).catch((e) => e);
    expect(push).toBeInstanceOf(QuotaExceededError);
    expect((await user.client.listVaults()).find((v) => v.vaultId === vault.vaultId)!.lastSequence).toBe(1);

    await vault.deleteFile(fileId);
    const after = (await user.client.listVaults()).find((v) => v.vaultId === vault.vaultId)!;
    expect(after.fileBytes).toBe(0);
    expect((await vault.putFile(fileBytes(CHUNK + 1), { fileId: big })).size).toBe(CHUNK + 1);
  });

  it('compactFiles removes the files the app no longer references; deleteVault removes every object through the Storage API', async () => {
    const user = await person('cleanup', false);
    const vault = await user.client.createVault('pw');
    const keep = await vault.putFile(fileBytes(100));
    const drop = await vault.putFile(fileBytes(100, 1));
    expect(await vault.compactFiles({ live: [keep.fileId] })).toEqual({ removed: [], more: false }); // too young by default
    expect(await vault.compactFiles({ live: [keep.fileId], minAgeMs: 0 })).toEqual({ removed: [drop.fileId], more: false });
    expect((await vault.files()).map((f) => f.fileId)).toEqual([keep.fileId]);
    expect(await objectsUnder(`${vault.vaultId}/${drop.fileId}`)).toEqual([]);

    // a deletion interrupted after its first step: no new objects meanwhile, delete_vault refuses while
    // objects remain, and calling deleteVault again finishes it
    expect((await user.supabase.rpc('prepare_vault_deletion', { vault_id: vault.vaultId })).error).toBeNull();
    await expect(vault.putFile(fileBytes(10))).rejects.toBeInstanceOf(ForbiddenError);
    const early = await user.supabase.rpc('delete_vault', { vault_id: vault.vaultId });
    expect(early.error?.hint).toBe('vault_files_remain');
    await user.client.deleteVault(vault.vaultId);
    expect(await objectsUnder(vault.vaultId)).toEqual([]);
    await expect(user.client.unlockVault(vault.vaultId, 'pw')).rejects.toBeInstanceOf(NotFoundError);
  });
});

/** A new Auth session (a device) of the user. */
async function signInWith(email: string, password: string): Promise<SupabaseClient> {
  const client = authClient();
  const { error } = await client.auth.signInWithPassword({ email, password });
  expect(error).toBeNull();
  return client;
}
