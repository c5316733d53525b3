/**
 * Resumable uploads against the embedded Storage with an unmodified TUS client (tus-js-client), as
 * Supabase documents them: /storage/v1/upload/resumable, metadata bucketName/objectName/contentType,
 * RLS decided before bytes are stored, bucket limits, resume after an interruption, the signed
 * variant with `x-signature`.
 */
import * as tus from 'tus-js-client';
import { describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { newUser, stack } from './support/stack.ts';
import { blobBytes, bytes, serviceClient, testBucket, userClient } from './support/storage.ts';

const ENDPOINT = `${stack.API_URL}/storage/v1/upload/resumable`;

interface TusOptions {
  token?: string;
  bucket: string;
  name: string;
  contentType?: string;
  upsert?: boolean;
  chunkSize?: number;
  endpoint?: string;
  headers?: Record<string, string>;
  uploadUrl?: string;
  onChunk?: (upload: tus.Upload, uploaded: number) => void;
  onRequest?: (method: string, offset: string | undefined) => void;
}

function tusUpload(data: Uint8Array, options: TusOptions): { upload: tus.Upload; done: Promise<void> } {
  let upload!: tus.Upload;
  const done = new Promise<void>((resolve, reject) => {
    upload = new tus.Upload(Buffer.from(data), {
      endpoint: options.endpoint ?? ENDPOINT,
      ...(options.uploadUrl ? { uploadUrl: options.uploadUrl } : {}),
      retryDelays: [],
      headers: {
        apikey: stack.ANON_KEY,
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.upsert ? { 'x-upsert': 'true' } : {}),
        ...options.headers,
      },
      uploadDataDuringCreation: true,
      removeFingerprintOnSuccess: true,
      metadata: {
        bucketName: options.bucket, objectName: options.name,
        contentType: options.contentType ?? 'application/octet-stream', cacheControl: '3600',
      },
      chunkSize: options.chunkSize ?? 6 * 1024 * 1024,
      onBeforeRequest: (req) => options.onRequest?.(req.getMethod(), req.getHeader('Upload-Offset') ?? undefined),
      onChunkComplete: (_chunk, uploaded) => options.onChunk?.(upload, uploaded),
      onSuccess: () => resolve(),
      onError: (error) => reject(error),
    });
    upload.start();
  });
  return { upload, done };
}

const statusOf = (error: unknown) => (error as tus.DetailedError).originalResponse?.getStatus();

async function download(user: StackUser, bucket: string, name: string) {
  return blobBytes((await userClient(user).storage.from(bucket).download(name)).data);
}

describe('TUS resumable uploads', () => {
  it('answers OPTIONS with Tus-Version 1.0.0', async () => {
    const response = await fetch(ENDPOINT, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('tus-version')).toBe('1.0.0');
  });

  it('uploads in chunks into the caller’s folder; the object is readable like any other', async () => {
    const bucket = await testBucket();
    const user = await newUser('tus');
    const data = bytes(300_000, 11);
    await tusUpload(data, { token: user.access_token, bucket: bucket.id, name: `${user.id}/big.bin`, chunkSize: 64 * 1024, contentType: 'image/png' }).done;
    expect(await download(user, bucket.id, `${user.id}/big.bin`)).toEqual(data);
    expect((await userClient(user).storage.from(bucket.id).info(`${user.id}/big.bin`)).data)
      .toMatchObject({ size: 300_000, contentType: 'image/png', cacheControl: 'max-age=3600' });
  });

  it('resumes an interrupted upload from the stored offset, sending only the rest', async () => {
    const bucket = await testBucket();
    const user = await newUser('tus');
    const data = bytes(640 * 1024, 12);
    const chunkSize = 64 * 1024;
    let interrupted!: () => void;
    const stopped = new Promise<void>((resolve) => { interrupted = resolve; });
    const first = tusUpload(data, {
      token: user.access_token, bucket: bucket.id, name: `${user.id}/resumed.bin`, chunkSize,
      onChunk: (upload, uploaded) => { if (uploaded >= 3 * chunkSize) void upload.abort().then(interrupted); },
    });
    first.done.catch(() => {});
    await stopped;
    const url = first.upload.url!;
    expect(url).toMatch(new RegExp(`^${ENDPOINT}/[A-Za-z0-9_-]+$`));

    const head = await fetch(url, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', apikey: stack.ANON_KEY, authorization: `Bearer ${user.access_token}` } });
    const stored = Number(head.headers.get('upload-offset'));
    expect(stored).toBeGreaterThanOrEqual(3 * chunkSize);
    expect(stored).toBeLessThan(data.length);
    expect((await userClient(user).storage.from(bucket.id).exists(`${user.id}/resumed.bin`)).data).toBe(false);

    const patches: string[] = [];
    await tusUpload(data, {
      token: user.access_token, bucket: bucket.id, name: `${user.id}/resumed.bin`, chunkSize, uploadUrl: url,
      onRequest: (method, offset) => { if (method === 'PATCH') patches.push(offset!); },
    }).done;
    expect(Number(patches[0])).toBe(stored);
    expect(patches.length).toBe(Math.ceil((data.length - stored) / chunkSize));
    expect(await download(user, bucket.id, `${user.id}/resumed.bin`)).toEqual(data);
  });

  it('refuses anon, another user’s folder and a missing token before storing anything', async () => {
    const bucket = await testBucket();
    const user = await newUser('tus');
    const other = await newUser('tus');
    const anonError = await tusUpload(bytes(10), { token: stack.ANON_KEY, bucket: bucket.id, name: `${user.id}/a.bin` }).done.catch((e) => e);
    expect(statusOf(anonError)).toBe(403);
    const otherError = await tusUpload(bytes(10), { token: other.access_token, bucket: bucket.id, name: `${user.id}/a.bin` }).done.catch((e) => e);
    expect(statusOf(otherError)).toBe(403);
    const noToken = await fetch(ENDPOINT, {
      method: 'POST', headers: { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': `bucketName ${btoa(bucket.id)},objectName ${btoa(`${user.id}/a.bin`)}` },
    });
    expect(noToken.status).toBe(400);
    expect(await noToken.json()).toMatchObject({ statusCode: '403', error: 'Unauthorized' });
    expect((await serviceClient().storage.from(bucket.id).list(user.id)).data).toEqual([]);
  });

  it('another user can neither append to nor drop an upload in progress; its owner can drop it', async () => {
    const bucket = await testBucket();
    const user = await newUser('tus');
    const other = await newUser('tus');
    const headers = (token: string) => ({ 'tus-resumable': '1.0.0', apikey: stack.ANON_KEY, authorization: `Bearer ${token}` });
    const created = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { ...headers(user.access_token), 'upload-length': '10', 'upload-metadata': `bucketName ${btoa(bucket.id)},objectName ${btoa(`${user.id}/p.bin`)}` },
    });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    const append = await fetch(url, {
      method: 'PATCH', headers: { ...headers(other.access_token), 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: bytes(10),
    });
    expect(append.status).toBe(403);
    expect((await fetch(url, { method: 'DELETE', headers: headers(other.access_token) })).status).toBe(403);
    const offset = await fetch(url, { method: 'HEAD', headers: headers(user.access_token) });
    expect(offset.headers.get('upload-offset')).toBe('0');
    expect((await fetch(url, { method: 'DELETE', headers: headers(user.access_token) })).status).toBe(204);
    expect((await fetch(url, { method: 'HEAD', headers: headers(user.access_token) })).status).toBe(404);
  });

  it('enforces the bucket’s size limit (413) and MIME types (415)', async () => {
    const bucket = await testBucket({ fileSizeLimit: 1000, allowedMimeTypes: ['image/*'] });
    const user = await newUser('tus');
    const tooBig = await tusUpload(bytes(1001), { token: user.access_token, bucket: bucket.id, name: `${user.id}/big.png`, contentType: 'image/png' }).done.catch((e) => e);
    expect(statusOf(tooBig)).toBe(413);
    const wrongType = await tusUpload(bytes(10), { token: user.access_token, bucket: bucket.id, name: `${user.id}/a.pdf`, contentType: 'application/pdf' }).done.catch((e) => e);
    expect(statusOf(wrongType)).toBe(415);
    await tusUpload(bytes(1000), { token: user.access_token, bucket: bucket.id, name: `${user.id}/ok.png`, contentType: 'image/png' }).done;
    expect((await userClient(user).storage.from(bucket.id).exists(`${user.id}/ok.png`)).data).toBe(true);
  });

  it('an existing object is replaced only with x-upsert', async () => {
    const bucket = await testBucket();
    const user = await newUser('tus');
    const name = `${user.id}/same.bin`;
    await tusUpload(bytes(100, 1), { token: user.access_token, bucket: bucket.id, name }).done;
    const duplicate = await tusUpload(bytes(100, 2), { token: user.access_token, bucket: bucket.id, name }).done.catch((e) => e);
    expect(statusOf(duplicate)).toBe(409);
    expect(await download(user, bucket.id, name)).toEqual(bytes(100, 1));
    await tusUpload(bytes(100, 3), { token: user.access_token, bucket: bucket.id, name, upsert: true }).done;
    expect(await download(user, bucket.id, name)).toEqual(bytes(100, 3));
  });

  it('the signed variant uploads with an upload token in x-signature and no auth, to that object only', async () => {
    const bucket = await testBucket();
    const user = await newUser('tus');
    const files = userClient(user).storage.from(bucket.id);
    const signed = await files.createSignedUploadUrl(`${user.id}/signed.bin`);
    const endpoint = `${ENDPOINT}/sign`;
    await tusUpload(bytes(2000, 5), { endpoint, bucket: bucket.id, name: `${user.id}/signed.bin`, headers: { 'x-signature': signed.data!.token } }).done;
    expect(await download(user, bucket.id, `${user.id}/signed.bin`)).toEqual(bytes(2000, 5));
    const elsewhere = await tusUpload(bytes(10), { endpoint, bucket: bucket.id, name: `${user.id}/other.bin`, headers: { 'x-signature': signed.data!.token } }).done.catch((e) => e);
    expect(statusOf(elsewhere)).toBe(400);
    const signedDownload = await files.createSignedUrl(`${user.id}/signed.bin`, 60);
    const downloadToken = new URL(signedDownload.data!.signedUrl).searchParams.get('token')!;
    const wrongScope = await tusUpload(bytes(10), { endpoint, bucket: bucket.id, name: `${user.id}/signed.bin`, upsert: true, headers: { 'x-signature': downloadToken } }).done.catch((e) => e);
    expect(statusOf(wrongScope)).toBe(400);
    expect(await download(user, bucket.id, `${user.id}/signed.bin`)).toEqual(bytes(2000, 5));
  });
});
