/**
 * The embedded Storage through unmodified supabase-js (`supabase.storage`): buckets, uploads and
 * downloads under RLS policies created here on a test-only bucket, errors in Storage's shape.
 */
import { describe, expect, it } from 'vitest';
import { adminSql, newUser, stack } from './support/stack.ts';
import { anonClient, blobBytes, bytes, serviceClient, testBucket, userClient } from './support/storage.ts';

describe('buckets', () => {
  it('the service role creates, gets, lists, updates and deletes a bucket', async () => {
    const storage = serviceClient().storage;
    const id = `test-${crypto.randomUUID()}`;
    expect((await storage.createBucket(id, { public: false, fileSizeLimit: '1MB', allowedMimeTypes: ['image/png'] })).data)
      .toEqual({ name: id });
    const got = await storage.getBucket(id);
    expect(got.data).toMatchObject({ id, name: id, public: false, file_size_limit: 1_000_000, allowed_mime_types: ['image/png'] });
    expect((await storage.listBuckets()).data?.map((bucket) => bucket.id)).toContain(id);
    expect((await storage.updateBucket(id, { public: true, fileSizeLimit: 2048, allowedMimeTypes: ['text/*'] })).error).toBeNull();
    expect((await storage.getBucket(id)).data).toMatchObject({ public: true, file_size_limit: 2048, allowed_mime_types: ['text/*'] });
    expect((await storage.deleteBucket(id)).data).toEqual({ message: 'Successfully deleted' });
    const gone = await storage.getBucket(id);
    expect(gone.error).toMatchObject({ status: 400, statusCode: '404', message: 'Bucket not found' });
  });

  it('a second bucket with the same id is a 409 Duplicate', async () => {
    const bucket = await testBucket({ ownFolders: false });
    const again = await serviceClient().storage.createBucket(bucket.id);
    expect(again.error).toMatchObject({ statusCode: '409', message: 'The resource already exists' });
  });

  it('users and anon cannot create buckets (no policy on storage.buckets)', async () => {
    const user = await newUser('storage');
    for (const storage of [userClient(user).storage, anonClient().storage]) {
      const { error } = await storage.createBucket(`test-${crypto.randomUUID()}`);
      expect(error).toMatchObject({ status: 400, statusCode: '403' });
      expect(error?.message).toMatch(/row-level security/);
    }
  });

  it('refuses invalid bucket names and a limit over the global one', async () => {
    const storage = serviceClient().storage;
    expect((await storage.createBucket('bad/name')).error).toMatchObject({ statusCode: '400', message: 'Bucket name invalid' });
    expect((await storage.createBucket(`test-${crypto.randomUUID()}`, { public: false, fileSizeLimit: '1GB' })).error)
      .toMatchObject({ statusCode: '413' });
  });

  it('deleting a bucket that holds objects is 409 ResourceNotEmpty; emptying it first lets it go', async () => {
    const bucket = await testBucket({ ownFolders: false });
    const storage = serviceClient().storage;
    for (const name of ['a.txt', 'f/b.txt', 'f/g/c.txt']) {
      expect((await storage.from(bucket.id).upload(name, bytes(10), { contentType: 'text/plain' })).error).toBeNull();
    }
    expect((await storage.deleteBucket(bucket.id)).error).toMatchObject({ statusCode: '409' });
    expect((await storage.emptyBucket(bucket.id)).error).toBeNull();
    expect((await storage.from(bucket.id).list('')).data).toEqual([]);
    expect((await storage.deleteBucket(bucket.id)).error).toBeNull();
  });
});

describe('objects under RLS', () => {
  it('a user uploads into their own folder and downloads the same bytes', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    const data = bytes(100_000, 3);
    const uploaded = await files.upload(`${user.id}/doc.bin`, data, { contentType: 'application/octet-stream' });
    expect(uploaded.error).toBeNull();
    expect(uploaded.data).toMatchObject({ path: `${user.id}/doc.bin`, fullPath: `${bucket.id}/${user.id}/doc.bin` });
    expect(await blobBytes((await files.download(`${user.id}/doc.bin`)).data)).toEqual(data);
  });

  it('a Blob upload (multipart form) keeps its bytes, type and cache control', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    const data = bytes(5000, 9);
    expect((await files.upload(`${user.id}/form.txt`, new Blob([data], { type: 'text/plain' }), { cacheControl: '60' })).error).toBeNull();
    const info = await files.info(`${user.id}/form.txt`);
    expect(info.data).toMatchObject({ size: 5000, contentType: 'text/plain', cacheControl: 'max-age=60' });
    expect(await blobBytes((await files.download(`${user.id}/form.txt`)).data)).toEqual(data);
  });

  it('another user and anon neither read, overwrite, list nor delete a user’s object', async () => {
    const bucket = await testBucket();
    const owner = await newUser('storage');
    const other = await newUser('storage');
    const path = `${owner.id}/secret.bin`;
    expect((await userClient(owner).storage.from(bucket.id).upload(path, bytes(64))).error).toBeNull();
    for (const storage of [userClient(other).storage, anonClient().storage]) {
      const files = storage.from(bucket.id);
      expect((await files.download(path)).error).toMatchObject({ status: 400, statusCode: '404', message: 'Object not found' });
      expect((await files.exists(path)).data).toBe(false);
      expect((await files.list(owner.id)).data).toEqual([]);
      expect((await files.upload(path, bytes(64, 2), { upsert: true })).error).toMatchObject({ statusCode: '403' });
      expect((await files.remove([path])).data).toEqual([]);
      expect((await files.createSignedUrl(path, 60)).error).toMatchObject({ statusCode: '404' });
    }
    // Writing into someone else's folder is refused before a byte is stored.
    const intrusion = await userClient(other).storage.from(bucket.id).upload(`${owner.id}/planted.bin`, bytes(64));
    expect(intrusion.error).toMatchObject({ statusCode: '403' });
    expect(intrusion.error?.message).toMatch(/row-level security/);
    expect((await serviceClient().storage.from(bucket.id).list(owner.id)).data?.map((entry) => entry.name)).toEqual(['secret.bin']);
    expect(await blobBytes((await userClient(owner).storage.from(bucket.id).download(path)).data)).toEqual(bytes(64));
  });

  it('an upload onto an existing name is 409 Duplicate unless upsert, which replaces the bytes', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    const path = `${user.id}/twice.bin`;
    expect((await files.upload(path, bytes(10, 1))).error).toBeNull();
    expect((await files.upload(path, bytes(10, 2))).error).toMatchObject({ statusCode: '409', message: 'The resource already exists' });
    expect(await blobBytes((await files.download(path)).data)).toEqual(bytes(10, 1));
    expect((await files.upload(path, bytes(20, 3), { upsert: true })).error).toBeNull();
    expect(await blobBytes((await files.download(path)).data)).toEqual(bytes(20, 3));
    expect((await files.update(path, bytes(30, 4))).error).toBeNull();
    expect(await blobBytes((await files.download(path)).data)).toEqual(bytes(30, 4));
  });

  it('an INSERT-only policy lets users upload but not read back or overwrite (Storage writes without RETURNING)', async () => {
    const bucket = await testBucket({ ownFolders: false });
    await adminSql().unsafe(`create policy "${bucket.id} drop box" on storage.objects for insert to authenticated
      with check (bucket_id = '${bucket.id}')`);
    try {
      const user = await newUser('storage');
      const files = userClient(user).storage.from(bucket.id);
      expect((await files.upload('dropped.bin', bytes(16))).error).toBeNull();
      expect((await files.download('dropped.bin')).error).toMatchObject({ statusCode: '404' });
      expect((await files.upload('dropped.bin', bytes(16, 2), { upsert: true })).error).toMatchObject({ statusCode: '403' });
      expect(await blobBytes((await serviceClient().storage.from(bucket.id).download('dropped.bin')).data)).toEqual(bytes(16));
    } finally {
      await adminSql().unsafe(`drop policy "${bucket.id} drop box" on storage.objects`);
    }
  });

  it('an invalid or expired token is refused with Storage’s error, not read as anon', async () => {
    const bucket = await testBucket({ public: true });
    const response = await fetch(`${stack.API_URL}/storage/v1/object/${bucket.id}/x.txt`, {
      headers: { apikey: stack.ANON_KEY, authorization: 'Bearer not-a-jwt' },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ statusCode: '403', error: 'Unauthorized' });
  });
});

describe('limits', () => {
  it('a file over the bucket’s size limit is 413 and nothing is stored', async () => {
    const bucket = await testBucket({ fileSizeLimit: 1000 });
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    expect((await files.upload(`${user.id}/big.bin`, bytes(1001))).error)
      .toMatchObject({ status: 400, statusCode: '413', message: 'The object exceeded the maximum allowed size' });
    expect((await files.upload(`${user.id}/big.bin`, new Blob([bytes(1001)]))).error).toMatchObject({ statusCode: '413' });
    expect((await files.exists(`${user.id}/big.bin`)).data).toBe(false);
    expect((await files.upload(`${user.id}/ok.bin`, bytes(1000))).error).toBeNull();
  });

  it('an INSERT policy sees the declared size and type (metadata.contentLength, mimetype) before any byte is stored', async () => {
    const bucket = await testBucket({ ownFolders: false });
    await adminSql().unsafe(`create policy "${bucket.id} small" on storage.objects for insert to authenticated
      with check (bucket_id = '${bucket.id}' and (metadata->>'contentLength')::bigint <= 500 and metadata->>'mimetype' = 'text/plain')`);
    try {
      const user = await newUser('storage');
      const files = userClient(user).storage.from(bucket.id);
      expect((await files.upload('small.txt', bytes(100), { contentType: 'text/plain' })).error).toBeNull();
      expect((await files.upload('form.txt', new Blob([bytes(100)], { type: 'text/plain' }))).error).toBeNull();
      expect((await files.upload('large.txt', bytes(501), { contentType: 'text/plain' })).error).toMatchObject({ statusCode: '403' });
      expect((await files.upload('other.bin', bytes(10), { contentType: 'image/png' })).error).toMatchObject({ statusCode: '403' });
      const stored = await serviceClient().storage.from(bucket.id).list('');
      expect(stored.data?.map((entry) => [entry.name, entry.metadata?.size])).toEqual([['form.txt', 100], ['small.txt', 100]]);
    } finally {
      await adminSql().unsafe(`drop policy "${bucket.id} small" on storage.objects`);
    }
  });

  it('a type outside the bucket’s allowed MIME types is 415', async () => {
    const bucket = await testBucket({ allowedMimeTypes: ['image/png', 'text/*'] });
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    expect((await files.upload(`${user.id}/a.bin`, bytes(10), { contentType: 'application/pdf' })).error)
      .toMatchObject({ statusCode: '415', message: 'mime type application/pdf is not supported' });
    expect((await files.upload(`${user.id}/a.png`, bytes(10), { contentType: 'image/png' })).error).toBeNull();
    expect((await files.upload(`${user.id}/a.txt`, bytes(10), { contentType: 'text/csv' })).error).toBeNull();
  });
});
