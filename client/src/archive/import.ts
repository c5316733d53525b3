/**
 * client.importArchive: restores an archive (export.ts, docs/export.md) as a NEW vault owned by the
 * caller, on whatever server the client is signed in to.
 *
 * Order and guarantees:
 * 1. The header is authenticated with `password` (WrongPasswordError) and the first chunk (the
 *    manifest) read before anything is created. A Uint8Array or Blob is then read through once
 *    more, entirely, before the vault is created, so a damaged file of those kinds never creates one.
 *    A ReadableStream cannot be read twice: its damage may show only later, and then the vault is
 *    deleted again (client.deleteVault, files included) before ArchiveIntegrityError is thrown.
 * 2. Until the import has finished, the new vault's key is wrapped under a password derived from
 *    the archive key (K_import, format.ts), not under `vaultPassword`: a vault whose import was
 *    interrupted refuses `vaultPassword` (WrongPasswordError), so it can never pass for a complete
 *    restore. Only after the end record was read and checked, every log pushed and every file
 *    uploaded is the key re-wrapped under `vaultPassword` (vault.changePassword).
 * 3. Restart: the vault ids an archive may use are derived from its key (K_vault-id/<n>, n = 0..31):
 *    an import tries them in order: one it can unlock with K_import is its own unfinished import
 *    (resumed: logs pushed again come back as duplicates, since log ids survive the round trip;
 *    files already registered are skipped, a partly uploaded one resumes under its fileId); one it
 *    can unlock with `vaultPassword` is its own finished import (returned as it is); one it cannot
 *    unlock (another user's, or since re-protected) or whose id is spent (a deleted vault) is
 *    skipped; the first free id gets the new vault. Only someone with the archive password can
 *    link an archive to its vault id.
 * Logs are sealed again for the new vault (its own random key, this session's device id); their
 * ids, haexTimestamps, data and record keys are kept (record keys are opaque to the server; a
 * change made later under the new key gets another record key, so it does not supersede an
 * imported log in compaction: both stay, which is correct, only not compacted).
 */
import { ConflictError, NotFoundError, UsageError, WrongPasswordError } from '../errors.ts';
import { toBase64 } from '../encoding.ts';
import { type EncryptedLog, MAX_PLAINTEXT_BYTES } from '../log-crypto.ts';
import type { Vault } from '../vault.ts';
import { sealLogs } from './seal.ts';
import { ArchiveIntegrityError, type ArchiveKeys, openArchive } from './format.ts';
import { type ArchivedLog, ArchiveRecordReader } from './records.ts';

export interface ImportArchiveOptions {
  /** The archive's password (what exportArchive was given). */
  password: string;
  /** The password of the new vault. */
  vaultPassword: string;
  /** Called as logs are pushed and files uploaded: items done of about `totalItems` (the archive's count). */
  onProgress?: (doneItems: number, totalItems: number) => void;
}

/** What the import needs of a HaexSyncClient. */
export interface ImportTarget {
  createVault(password: string, options: { vaultId: string }): Promise<Vault>;
  unlockVault(vaultId: string, password: string): Promise<Vault>;
  deleteVault(vaultId: string): Promise<void>;
  /** The key, generation and device id new logs of `vault` are sealed with. */
  sealing(vault: Vault): Promise<{ key: CryptoKey; generation: number; deviceId: string | null }>;
}

export type ArchiveData = Uint8Array | Blob | ReadableStream<Uint8Array>;
export const MAX_VAULT_ID_ATTEMPTS = 32;
const BATCH_LOGS = 1000;
const BATCH_CHARS = 4 * 1024 * 1024;
const PUSHES_IN_FLIGHT = 1;

/** A version-4-shaped UUID from 16 derived bytes. */
function uuidOf(bytes: Uint8Array): string {
  const b = bytes.slice(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The vault an import of this archive uses: its own unfinished or finished one, else a new one. */
async function vaultFor(target: ImportTarget, keys: ArchiveKeys, importPassword: string, vaultPassword: string):
  Promise<{ vault: Vault; state: 'new' | 'resumed' | 'finished' }> {
  for (let n = 0; n < MAX_VAULT_ID_ATTEMPTS; n++) {
    const vaultId = uuidOf(await keys.derive(`vault-id/${n}`));
    try {
      return { vault: await target.unlockVault(vaultId, importPassword), state: 'resumed' };
    } catch (error) {
      if (error instanceof WrongPasswordError) {
        try {
          return { vault: await target.unlockVault(vaultId, vaultPassword), state: 'finished' };
        } catch (again) {
          if (again instanceof WrongPasswordError) continue;
          throw again;
        }
      }
      if (!(error instanceof NotFoundError)) throw error;
    }
    try {
      return { vault: await target.createVault(importPassword, { vaultId }), state: 'new' };
    } catch (error) {
      if (error instanceof ConflictError) continue; // another user's vault, or a deleted one's id
      throw error;
    }
  }
  throw new UsageError(`every one of this archive's ${MAX_VAULT_ID_ATTEMPTS} vault ids is taken: it was restored too often on this server`);
}

/** Reads a whole archive without using it: ArchiveIntegrityError if any part is damaged. */
async function verify(data: Uint8Array | Blob, password: string): Promise<void> {
  const reader = new ArchiveRecordReader((await openArchive(data, password)).chunks);
  await reader.manifest();
  for await (const item of reader.items()) {
    if (item.kind === 'file') for await (const _ of item.data()) { /* authenticated and counted */ }
  }
}

export async function importArchive(target: ImportTarget, data: ArchiveData, options: ImportArchiveOptions): Promise<Vault> {
  const { password, vaultPassword } = options;
  if (typeof vaultPassword !== 'string' || vaultPassword.length === 0) throw new UsageError('vaultPassword must be a non-empty string');
  const { keys, chunks } = await openArchive(data, password);
  const reader = new ArchiveRecordReader(chunks);
  const manifest = await reader.manifest();
  if (data instanceof Uint8Array || (typeof Blob !== 'undefined' && data instanceof Blob)) await verify(data, password);

  const importSecret = await keys.derive('import');
  const importPassword = `haex-sync-import:${toBase64(importSecret)}`;
  importSecret.fill(0);
  const { vault, state } = await vaultFor(target, keys, importPassword, vaultPassword);
  if (state === 'finished') {
    await chunks.return(undefined);
    return vault;
  }
  try {
    await restore(target, vault, reader, state === 'resumed', manifest.expected.logs + manifest.expected.files, options.onProgress);
    await vault.changePassword(importPassword, vaultPassword);
  } catch (error) {
    if (error instanceof ArchiveIntegrityError) {
      vault.compaction.stop();
      await target.deleteVault(vault.vaultId);
    }
    throw error;
  }
  return vault;
}

async function restore(target: ImportTarget, vault: Vault, reader: ArchiveRecordReader, resumed: boolean, total: number,
  onProgress: ImportArchiveOptions['onProgress']): Promise<void> {
  const sealing = await target.sealing(vault);
  let done = 0;
  const progress = (n: number) => {
    done += n;
    onProgress?.(done, Math.max(total, done));
  };
  // One push in flight while the next batch is read and sealed. Not more: the new vault's sequences
  // then follow the archive's (the source's) order, so every device applies the restored history in
  // the order the exporting device did (measured: more pushes in flight gained nothing here, the
  // server being the bound).
  const pushing = new Set<Promise<void>>();
  let failure: unknown;
  const settled = async () => { await Promise.all(pushing); if (failure) throw failure; };
  let batch: ArchivedLog[] = [];
  let chars = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const logs: EncryptedLog[] = await sealLogs(sealing, vault.vaultId, batch);
    batch = [];
    chars = 0;
    while (pushing.size >= PUSHES_IN_FLIGHT) await Promise.race(pushing);
    if (failure) throw failure;
    const push: Promise<void> = vault.push(logs).then(() => progress(logs.length), (error: unknown) => { failure ??= error; })
      .finally(() => pushing.delete(push));
    pushing.add(push);
  };
  const stored = resumed ? new Map((await vault.files()).map((f) => [f.fileId, f.size])) : new Map<string, number>();
  try {
    for await (const item of reader.items()) {
      if (item.kind === 'log') {
        if (item.log.data.length > MAX_PLAINTEXT_BYTES) throw new ArchiveIntegrityError('malformed', `log ${item.log.id} is larger than a log may be`);
        const size = Math.ceil((item.log.data.length + 16) / 3) * 4;
        if (batch.length >= BATCH_LOGS || (batch.length > 0 && chars + size > BATCH_CHARS)) await flush();
        batch.push(item.log);
        chars += size;
      } else if (item.kind === 'file') {
        await flush();
        await settled();
        if (stored.get(item.file.fileId) === item.file.size) {
          for await (const _ of item.data()) { /* already uploaded by the interrupted import: read past it */ }
        } else {
          const source = item.data();
          const stream = new ReadableStream<Uint8Array>({
            async pull(controller) {
              const { done: end, value } = await source.next();
              if (end) controller.close();
              else controller.enqueue(value);
            },
          }, { highWaterMark: 0 });
          await vault.putFile(stream, { fileId: item.file.fileId });
        }
        progress(1);
      }
    }
    await flush();
    await settled();
  } finally {
    await Promise.all(pushing); // settled before the caller may delete the vault
  }
}
