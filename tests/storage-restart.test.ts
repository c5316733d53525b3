/**
 * The embedded Storage keeps objects and unfinished resumable uploads across a restart of the whole
 * stack (its own throwaway stack, restarted on the same data dir and ports).
 */
import { rmSync } from 'node:fs';
import { createClient } from '@supabase/supabase-js';
import * as tus from 'tus-js-client';
import WebSocket from 'ws';
import { afterAll, expect, it } from 'vitest';
import { bytes } from './support/storage.ts';
import { startThrowawayStack } from './support/throwaway-stack.ts';

let stack: Awaited<ReturnType<typeof startThrowawayStack>> | undefined;
afterAll(async () => { await stack?.dispose(); });

const seeded = (isPublic: boolean) => ({
  storage: { fileSizeLimit: 50 * 1024 * 1024, buckets: [{ id: 'seeded', public: isPublic, fileSizeLimit: 1000, allowedMimeTypes: ['image/png'] }] },
});

it('objects and the offset of an interrupted TUS upload survive a restart of the stack; configured buckets are seeded', async () => {
  stack = await startThrowawayStack({ quiet: true, config: seeded(true) });
  const { info, config, dataDir } = stack;
  const client = () => createClient(info.API_URL, info.SERVICE_ROLE_KEY, {
    auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
  });
  const bucket = `restart-${crypto.randomUUID()}`;
  expect((await client().storage.createBucket(bucket, { public: false })).error).toBeNull();
  expect((await client().storage.getBucket('seeded')).data)
    .toMatchObject({ public: true, file_size_limit: 1000, allowed_mime_types: ['image/png'] });
  expect((await client().storage.from(bucket).upload('kept.bin', bytes(50_000, 21))).error).toBeNull();

  const data = bytes(512 * 1024, 22);
  const options = (uploadUrl?: string, onChunk?: (upload: tus.Upload, uploaded: number) => void) => ({
    endpoint: `${info.API_URL}/storage/v1/upload/resumable`, retryDelays: [], chunkSize: 64 * 1024,
    headers: { apikey: info.SERVICE_ROLE_KEY, authorization: `Bearer ${info.SERVICE_ROLE_KEY}` },
    metadata: { bucketName: bucket, objectName: 'resumed.bin' },
    ...(uploadUrl ? { uploadUrl } : {}),
  });
  let upload!: tus.Upload;
  await new Promise<void>((resolve, reject) => {
    upload = new tus.Upload(Buffer.from(data), {
      ...options(),
      onChunkComplete: (_chunk, uploaded) => { if (uploaded >= 2 * 64 * 1024) void upload.abort().then(resolve); },
      onSuccess: () => reject(new Error('the upload should have been interrupted')), onError: reject,
    });
    upload.start();
  });
  const url = upload.url!;

  await stack.stop();
  stack = await startThrowawayStack({ dataDir, quiet: true, config: { apiPort: config.apiPort, dbPort: config.dbPort, ...seeded(false) } });
  const dispose = stack.dispose;
  stack.dispose = async () => { await dispose(); rmSync(dataDir, { recursive: true, force: true }); };

  expect((await client().storage.getBucket('seeded')).data).toMatchObject({ public: false });
  const kept = await client().storage.from(bucket).download('kept.bin');
  expect(new Uint8Array(await kept.data!.arrayBuffer())).toEqual(bytes(50_000, 21));

  const head = await fetch(url, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${info.SERVICE_ROLE_KEY}` } });
  expect(Number(head.headers.get('upload-offset'))).toBeGreaterThanOrEqual(2 * 64 * 1024);
  await new Promise<void>((resolve, reject) => {
    new tus.Upload(Buffer.from(data), { ...options(url), onSuccess: () => resolve(), onError: reject }).start();
  });
  const resumed = await client().storage.from(bucket).download('resumed.bin');
  expect(new Uint8Array(await resumed.data!.arrayBuffer())).toEqual(data);
}, 120_000);
