/**
 * Bad input to the embedded Storage is answered in Storage's error shape with a 4xx (HTTP 400 with
 * the real status in `statusCode`, as hosted Storage does; TUS with its own status codes), never a
 * 500, and nothing is written.
 */
import { describe, expect, it } from 'vitest';
import { stack } from './support/stack.ts';
import { bytes, serviceClient, testBucket } from './support/storage.ts';

const auth = { apikey: stack.ANON_KEY, authorization: `Bearer ${stack.SERVICE_ROLE_KEY}` };

async function call(path: string, init: { method?: string; body?: string | Uint8Array<ArrayBuffer>; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${stack.API_URL}/storage/v1${path}`, {
    method: init.method ?? 'POST', headers: { ...auth, 'content-type': 'application/json', ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

describe('bad input', () => {
  it('management routes answer 400 with Storage’s error body, naming what is wrong', async () => {
    const bucket = await testBucket({ ownFolders: false });
    const cases: Array<[string, Parameters<typeof call>[1], RegExp]> = [
      ['/bucket', { body: '{not json' }, /JSON/],
      ['/bucket', { body: JSON.stringify({ name: 42 }) }, /name/],
      ['/bucket', { body: JSON.stringify({ name: 'ok', file_size_limit: 'lots' }) }, /file size/i],
      ['/bucket', { body: JSON.stringify({ name: 'ok', allowed_mime_types: ['not a type'] }) }, /mime type/],
      [`/bucket/${bucket.id}`, { method: 'PUT', body: JSON.stringify({}) }, /public/],
      [`/object/list/${bucket.id}`, { body: JSON.stringify({}) }, /prefix/],
      [`/object/list/${bucket.id}`, { body: JSON.stringify({ prefix: '', limit: -1 }) }, /limit/],
      [`/object/sign/${bucket.id}/x.txt`, { body: JSON.stringify({ expiresIn: 'soon' }) }, /expiresIn/],
      [`/object/sign/${bucket.id}`, { body: JSON.stringify({ expiresIn: 60, paths: 'x' }) }, /paths/],
      [`/object/${bucket.id}`, { method: 'DELETE', body: JSON.stringify({ prefixes: 'x' }) }, /prefixes/],
      ['/object/move', { body: JSON.stringify({ bucketId: bucket.id }) }, /sourceKey/],
      ['/object/copy', { body: JSON.stringify({ bucketId: bucket.id, sourceKey: 'a', destinationKey: 'bad\u0001key' }) }, /Invalid key/],
      [`/object/${bucket.id}/caf%C3%A9.txt`, { body: bytes(3), headers: { 'content-type': 'text/plain' } }, /Invalid key/],
      [`/object/${bucket.id}/meta.txt`, { body: bytes(3), headers: { 'content-type': 'text/plain', 'x-metadata': '%%%' } }, /x-metadata/],
      [`/object/sign/${bucket.id}/x.txt?token=garbage`, { method: 'GET', headers: {} }, /JWT/],
    ];
    for (const [path, init, message] of cases) {
      const answer = await call(path, init);
      expect(answer.status, path).toBe(400);
      expect(answer.body, path).toMatchObject({ statusCode: expect.stringMatching(/^4\d\d$/), error: expect.any(String) });
      expect(answer.body.message, path).toMatch(message);
    }
    expect((await serviceClient().storage.from(bucket.id).list('')).data).toEqual([]);
  });

  it('an unknown route is 404', async () => {
    const answer = await call('/nowhere', { method: 'GET' });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ statusCode: '404' });
  });

  it('TUS: missing metadata is 400, a wrong offset 409, an unknown upload 404', async () => {
    const bucket = await testBucket({ ownFolders: false });
    const tus = { ...auth, 'tus-resumable': '1.0.0' };
    const noMetadata = await fetch(`${stack.API_URL}/storage/v1/upload/resumable`, { method: 'POST', headers: { ...tus, 'upload-length': '10' } });
    expect(noMetadata.status).toBe(400);
    const created = await fetch(`${stack.API_URL}/storage/v1/upload/resumable`, {
      method: 'POST',
      headers: { ...tus, 'upload-length': '10', 'upload-metadata': `bucketName ${btoa(bucket.id)},objectName ${btoa('t.bin')}` },
    });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    const patch = (offset: number) => fetch(url, {
      method: 'PATCH', headers: { ...tus, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, body: bytes(5),
    });
    expect((await patch(3)).status).toBe(409);
    expect((await patch(0)).status).toBe(204);
    const unknown = url.replace(/[^/]+$/, Buffer.from(`${bucket.id}/t.bin/${crypto.randomUUID()}`).toString('base64url'));
    expect((await fetch(unknown, { method: 'HEAD', headers: tus })).status).toBe(404);
    const missingBucket = await fetch(`${stack.API_URL}/storage/v1/upload/resumable`, {
      method: 'POST',
      headers: { ...tus, 'upload-length': '10', 'upload-metadata': `bucketName ${btoa('no-such-bucket')},objectName ${btoa('t.bin')}` },
    });
    expect(missingBucket.status).toBe(404);
  });
});
