/**
 * Export and restore through the client library against the real stack (issue 29): a vault with
 * logs (record keys, several pushes) and files exported by one user and restored by another into a
 * new vault that a second device of theirs unlocks and reads back the same; a wrong archive password;
 * tampered and truncated archives as bytes and as streams (no vault left behind either way); an import
 * interrupted midway (its stream fails) and started again (no duplicated change, the same vault);
 * and the committed test vector (tests/fixtures/archive-v1), which every future version must import.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SupabaseClient } from '@supabase/supabase-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArchiveIntegrityError, type DecryptedLog, HaexSyncClient, type Vault, WrongPasswordError } from '../client/src/index.ts';
import { PROJECT_ROOT } from '../stack/config.ts';
import type { StackUser } from '../stack/users.ts';
import { fileBytes, supabaseClient } from './support/files.ts';
import { adminSql, newUser, stack } from './support/stack.ts';

const CHUNK = 64 * 1024;
const files = { chunkSize: CHUNK, concurrency: 2 };
const ARCHIVE_PASSWORD = 'archive password, not the vault one';
const VAULT_PASSWORD = 'the restored vault password';

async function signedIn(user: StackUser): Promise<SupabaseClient> {
  const supabase = supabaseClient(stack.API_URL, stack.CLIENT_KEY);
  const { error } = await supabase.auth.setSession({ access_token: user.access_token, refresh_token: user.refresh_token });
  expect(error).toBeNull();
  return supabase;
}
/** A user with two devices (two sessions, two clients). */
async function person(label: string) {
  const user = await newUser(label);
  const device = async () => HaexSyncClient.create({ supabase: await signedIn(user), files, autoCompact: false });
  return { user, client: await device(), other: await device() };
}
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  return new Uint8Array(Buffer.concat(parts)); // a copy: Buffer#slice would share memory
}
async function pullAll(vault: Vault): Promise<DecryptedLog[]> {
  const out: DecryptedLog[] = [];
  for await (const page of vault.pull(0)) out.push(...page.logs);
  return out;
}
/** What an app would compare: each log's id, timestamp, record key and data (sequence order). */
const state = (logs: DecryptedLog[]) => logs.map((l) => ({ id: l.id, t: l.haexTimestamp, k: l.recordKey !== null, data: l.data }));
/** A stream of `bytes` in pieces of `piece`, failing with `failAt` bytes read when given. */
function streamOf(bytes: Uint8Array, piece = 10_000, failAt?: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (failAt !== undefined && at >= failAt) return controller.error(new Error('connection lost'));
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

let source: Awaited<ReturnType<typeof person>>;
let sourceVault: Vault;
let archive: Uint8Array;
let sourceLogs: DecryptedLog[];
const FILE_A = fileBytes(2 * CHUNK + 999, 3);
let fileA: string, fileEmpty: string;
const exportProgress: Array<[number, number]> = [];

beforeAll(async () => {
  source = await person('exporter');
  sourceVault = await source.client.createVault('source vault password');
  await sourceVault.push(Array.from({ length: 1200 }, (_, i) => ({ data: { n: i, text: `secret note ${i}` }, haexTimestamp: `${1000 + i}-a` })));
  await sourceVault.push(Array.from({ length: 30 }, (_, i) => ({ data: { cell: i }, haexTimestamp: `${3000 + i}-b`, key: `cell-${i % 10}` })));
  fileA = (await sourceVault.putFile(FILE_A)).fileId;
  fileEmpty = (await sourceVault.putFile(new Uint8Array(0))).fileId;
  sourceLogs = await pullAll(sourceVault);
  archive = await readAll(await sourceVault.exportArchive({ password: ARCHIVE_PASSWORD, onProgress: (d, t) => exportProgress.push([d, t]) }));
});

describe('export and restore', () => {
  it('round trip: another user restores the archive, and their second device sees the same logs in the same order and the same files', async () => {
    expect(exportProgress.at(-1)).toEqual([1232, 1232]); // 1230 logs and 2 files
    expect(Buffer.from(archive).includes('secret note')).toBe(false);
    const restorer = await person('restorer');
    const progress: Array<[number, number]> = [];
    const restored = await restorer.client.importArchive(new Blob([archive as Uint8Array<ArrayBuffer>]),
      { password: ARCHIVE_PASSWORD, vaultPassword: VAULT_PASSWORD, onProgress: (d, t) => progress.push([d, t]) });
    expect(restored.vaultId).not.toBe(sourceVault.vaultId);
    expect(progress.at(-1)).toEqual([1232, 1232]);

    const onOtherDevice = await restorer.other.unlockVault(restored.vaultId, VAULT_PASSWORD);
    expect(state(await pullAll(onOtherDevice))).toEqual(state(sourceLogs));
    const listed = await onOtherDevice.files();
    expect(listed.map((f) => [f.fileId, f.size]).sort()).toEqual([[fileA, FILE_A.length], [fileEmpty, 0]].sort());
    expect(Buffer.from(await onOtherDevice.getFile(fileA)).equals(Buffer.from(FILE_A))).toBe(true);
    expect((await onOtherDevice.getFile(fileEmpty)).length).toBe(0);
    const summary = (await restorer.other.listVaults()).find((v) => v.vaultId === restored.vaultId);
    expect(summary?.role ?? 'owner').toBe('owner');
    // The restored vault works as any other: a push from the second device reaches the first.
    await onOtherDevice.push([{ data: 'after restore', haexTimestamp: '9999-z' }]);
    expect((await pullAll(restored)).at(-1)?.data).toBe('after restore');
  });

  it('a restore seals every log under a 96-bit nonce of its own: no two logs of the restored vault share one', async () => {
    const restorer = await person('nonces');
    const restored = await restorer.client.importArchive(archive, { password: ARCHIVE_PASSWORD, vaultPassword: VAULT_PASSWORD });
    const [row] = await adminSql()`select count(*)::int as logs, count(distinct nonce)::int as nonces,
                                          bool_and(length(decode(nonce, 'base64')) = 12) as all_12_bytes
                                   from public.sync_logs where vault_id = ${restored.vaultId}`;
    expect(row).toEqual({ logs: 1230, nonces: 1230, all_12_bytes: true });
  });

  it('a wrong archive password is WrongPasswordError before any vault is created', async () => {
    const restorer = await person('wrong-password');
    await expect(restorer.client.importArchive(archive, { password: 'not it', vaultPassword: VAULT_PASSWORD }))
      .rejects.toBeInstanceOf(WrongPasswordError);
    await expect(restorer.client.importArchive(streamOf(archive), { password: 'not it', vaultPassword: VAULT_PASSWORD }))
      .rejects.toBeInstanceOf(WrongPasswordError);
    expect(await restorer.client.listVaults()).toEqual([]);
  });

  it('foreign, tampered and truncated archives, as bytes and as streams: ArchiveIntegrityError and no vault left behind', async () => {
    const restorer = await person('tampered');
    const tampered = archive.slice();
    tampered[Math.floor(tampered.length * 0.7)]! ^= 0x01;
    const truncated = archive.subarray(0, Math.floor(archive.length * 0.8));
    const options = { password: ARCHIVE_PASSWORD, vaultPassword: VAULT_PASSWORD };
    const failure = async (data: Uint8Array | ReadableStream<Uint8Array>, reason: string) => {
      const error = await restorer.client.importArchive(data, options).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ArchiveIntegrityError);
      expect((error as ArchiveIntegrityError).reason).toBe(reason);
      expect(await restorer.client.listVaults()).toEqual([]);
    };
    await failure(fileBytes(5000, 9), 'not_an_archive'); // a foreign file
    await failure(tampered, 'tampered');
    await failure(truncated, 'tampered'); // cut inside a chunk: that chunk does not authenticate
    await failure(streamOf(tampered), 'tampered'); // created, filled up to the damage, deleted again
    await failure(streamOf(truncated), 'tampered');
    await failure(streamOf(archive.subarray(0, 94 + 2 * (64 * 1024 + 16))), 'truncated'); // cut at a chunk boundary
  });

  it('an import interrupted midway resumes into the same vault without duplicating a change, and looks incomplete until then', async () => {
    const restorer = await person('interrupted');
    const options = { password: ARCHIVE_PASSWORD, vaultPassword: VAULT_PASSWORD };
    // The stream dies after the logs and part of the first file: some logs are pushed, the file is partial.
    await expect(restorer.client.importArchive(streamOf(archive, 8192, archive.length - 50_000), options)).rejects.toThrow('connection lost');
    const [unfinished] = await restorer.client.listVaults();
    expect(unfinished?.logCount).toBeGreaterThan(0);
    await expect(restorer.other.unlockVault(unfinished!.vaultId, VAULT_PASSWORD)).rejects.toBeInstanceOf(WrongPasswordError);

    const restored = await restorer.client.importArchive(streamOf(archive), options);
    expect(restored.vaultId).toBe(unfinished!.vaultId);
    const logs = await pullAll(await restorer.other.unlockVault(restored.vaultId, VAULT_PASSWORD));
    expect(new Set(logs.map((l) => l.id)).size).toBe(logs.length);
    expect(state(logs)).toEqual(state(sourceLogs)); // in order too: the resumed pushes repeat the first ones as duplicates
    expect(Buffer.from(await restored.getFile(fileA)).equals(Buffer.from(FILE_A))).toBe(true);
    expect((await restorer.client.listVaults()).map((v) => v.vaultId)).toEqual([restored.vaultId]);
    // Once finished, importing the same archive again gives the same vault back (nothing duplicated).
    const again = await restorer.client.importArchive(archive, options);
    expect(again.vaultId).toBe(restored.vaultId);
    expect((await restorer.client.listVaults())[0]?.logCount).toBe(sourceLogs.length);
  });

  it('the committed test vector (format 1) still imports with its logs and file', async () => {
    const dir = path.join(PROJECT_ROOT, 'tests/fixtures/archive-v1');
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as {
      password: string; logs: Array<{ id: string; haexTimestamp: string; data: unknown }>; files: Array<{ fileId: string; base64: string }>;
    };
    const restorer = await person('vector');
    const vault = await restorer.client.importArchive(new Uint8Array(readFileSync(path.join(dir, 'vault.hxsa'))),
      { password: expected.password, vaultPassword: VAULT_PASSWORD });
    const logs = await pullAll(await restorer.other.unlockVault(vault.vaultId, VAULT_PASSWORD));
    expect(logs.map((l) => ({ id: l.id, haexTimestamp: l.haexTimestamp, data: l.data }))).toEqual(expected.logs);
    for (const file of expected.files) expect(Buffer.from(await vault.getFile(file.fileId)).toString('base64')).toBe(file.base64);
  });
});
