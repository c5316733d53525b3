/**
 * Unfinished resumable uploads expire as Storage's do (TUS_URL_EXPIRY_MS): after the period they
 * answer 410 and the clean-up removes their parts. Runs an embedded Storage of its own (same code,
 * a short period) on the shared stack's database, behind a bare HTTP server.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { JwtVerifier, tokenSigner } from '../stack/jwt.ts';
import { createStorageService } from '../stack/storage/index.ts';
import { stack } from './support/stack.ts';
import { testBucket } from './support/storage.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'haex-storage-expiry-'));
const service = createStorageService({
  dbUrl: stack.DB_URL, dataDir, verifier: new JwtVerifier(stack.JWT_SECRET, stack.SIGNING_KEYS),
  signer: tokenSigner(stack.JWT_SECRET, stack.SIGNING_KEYS), fileSizeLimit: 1024 * 1024, resumableExpiryMs: 300,
});
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://storage');
  service.handle(req, res, url.pathname.replace(/^\/storage\/v1/, ''), url.search, req.headers.authorization);
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await service.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('an unfinished upload expires: 410 after the period, its parts removed by the clean-up', async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/storage/v1/upload/resumable`;
  const bucket = await testBucket({ ownFolders: false });
  const headers = { 'tus-resumable': '1.0.0', authorization: `Bearer ${stack.SERVICE_ROLE_KEY}` };
  const created = await fetch(base, {
    method: 'POST', headers: { ...headers, 'upload-length': '100', 'upload-metadata': `bucketName ${btoa(bucket.id)},objectName ${btoa('late.bin')}` },
  });
  expect(created.status).toBe(201);
  expect(created.headers.get('upload-expires')).toBeTruthy();
  const url = created.headers.get('location')!.replace(/^https?:\/\/[^/]+/, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
  const tusDir = path.join(dataDir, 'storage', 'tus');
  expect(readdirSync(tusDir).length).toBe(2); // the parts and their metadata

  let status = 0;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && status !== 410;) {
    status = (await fetch(url, { method: 'HEAD', headers })).status;
    if (status !== 410) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(status).toBe(410);
  expect(await service.cleanUpResumable()).toBe(1);
  expect(readdirSync(tusDir)).toEqual([]);
  expect(existsSync(tusDir)).toBe(true);
});
