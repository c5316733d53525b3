/**
 * The embedded Storage's object operations through unmodified supabase-js: list (prefix, limit,
 * offset, sort, search), info, exists, move, copy, remove, signed download and upload URLs (each
 * token refused for the other use), and public buckets.
 */
import { describe, expect, it } from 'vitest';
import { adminSql, newUser, stack } from './support/stack.ts';
import { anonClient, blobBytes, bytes, serviceClient, testBucket, userClient } from './support/storage.ts';

const names = (entries: { name: string }[] | null) => entries?.map((entry) => entry.name);

describe('list', () => {
  it('lists one level below a prefix, folders as entries without id, names relative to the prefix', async () => {
    const bucket = await testBucket({ ownFolders: false });
    const files = serviceClient().storage.from(bucket.id);
    for (const name of ['top.txt', 'docs/a.txt', 'docs/B.txt', 'docs/c.txt', 'docs/sub/d.txt', 'docs/sub/e.txt', 'docs_/x.txt']) {
      expect((await files.upload(name, bytes(8), { contentType: 'text/plain' })).error).toBeNull();
    }
    const root = await files.list('');
    expect(names(root.data)).toEqual(['docs', 'docs_', 'top.txt']);
    expect(root.data?.find((entry) => entry.name === 'docs')?.id).toBeNull();
    expect(root.data?.find((entry) => entry.name === 'top.txt')).toMatchObject({ metadata: { size: 8, mimetype: 'text/plain' } });

    expect(names((await files.list('docs')).data)).toEqual(['a.txt', 'B.txt', 'c.txt', 'sub']);
    expect(names((await files.list('docs/')).data)).toEqual(['a.txt', 'B.txt', 'c.txt', 'sub']);
    expect(names((await files.list('docs', { limit: 2, offset: 1 })).data)).toEqual(['B.txt', 'c.txt']);
    expect(names((await files.list('docs', { sortBy: { column: 'name', order: 'desc' } })).data)).toEqual(['sub', 'c.txt', 'B.txt', 'a.txt']);
    // search: a case-insensitive prefix of the entry's name; LIKE wildcards are literal.
    expect(names((await files.list('docs', { search: 'b' })).data)).toEqual(['B.txt']);
    expect(names((await files.list('', { search: 'docs_' })).data)).toEqual(['docs_']);
    expect(names((await files.list('', { search: '_ocs' })).data)).toEqual([]);
    // Another column: folders first, then files in that order.
    const byCreation = await files.list('docs', { sortBy: { column: 'created_at', order: 'desc' } });
    expect(names(byCreation.data)).toEqual(['sub', 'c.txt', 'B.txt', 'a.txt']);
  });
});

describe('list v2', () => {
  it('pages through objects and collapsed folders with cursors, in both orders', async () => {
    const bucket = await testBucket({ ownFolders: false });
    const files = serviceClient().storage.from(bucket.id);
    for (const name of ['a/1', 'a/2', 'a/deep/3', 'b/x/1', 'b/y', 'c', 'd']) {
      expect((await files.upload(name, bytes(2))).error).toBeNull();
    }
    const first = await files.listV2({ with_delimiter: true });
    expect(first.data?.folders.map((f) => f.name)).toEqual(['a/', 'b/']);
    expect(first.data?.objects.map((o) => o.name)).toEqual(['c', 'd']);
    expect(first.data?.hasNext).toBe(false);

    const pages = async (order: 'asc' | 'desc') => {
      const seen: string[] = [];
      let next: string | undefined;
      for (let page = 0; page < 10; page++) {
        const { data, error } = await files.listV2({ with_delimiter: true, limit: 1, sortBy: { column: 'name', order }, ...(next ? { cursor: next } : {}) });
        expect(error).toBeNull();
        seen.push(...data!.folders.map((f) => f.name), ...data!.objects.map((o) => o.name));
        if (!data!.hasNext) break;
        next = data!.nextCursor;
      }
      return seen;
    };
    expect(await pages('asc')).toEqual(['a/', 'b/', 'c', 'd']);
    expect(await pages('desc')).toEqual(['d', 'c', 'b/', 'a/']);
    let cursor: string | undefined;
    const inA = await files.listV2({ prefix: 'a/', with_delimiter: true });
    expect(inA.data?.objects.map((o) => [o.name, o.key])).toEqual([['a/1', '1'], ['a/2', '2']]);
    expect(inA.data?.folders.map((f) => f.name)).toEqual(['a/deep/']);

    const flat = await files.listV2({ prefix: 'b/' });
    expect(flat.data?.objects.map((o) => o.name)).toEqual(['b/x/1', 'b/y']);
    const flatPages: string[] = [];
    cursor = undefined;
    for (let page = 0; page < 10; page++) {
      const { data } = await files.listV2({ limit: 3, sortBy: { column: 'created_at', order: 'desc' }, ...(cursor ? { cursor } : {}) });
      flatPages.push(...data!.objects.map((o) => o.name));
      if (!data!.hasNext) break;
      cursor = data!.nextCursor;
    }
    expect(flatPages).toEqual(['d', 'c', 'b/y', 'b/x/1', 'a/deep/3', 'a/2', 'a/1']);
  });
});

describe('info, exists, move, copy, remove', () => {
  it('info and exists describe an object the caller may see', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    const path = `${user.id}/note.txt`;
    expect((await files.upload(path, bytes(42), { contentType: 'text/plain', metadata: { app: 'haex' } })).error).toBeNull();
    const info = await files.info(path);
    expect(info.data).toMatchObject({ name: path, bucketId: bucket.id, size: 42, contentType: 'text/plain', metadata: { app: 'haex' } });
    expect(info.data?.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect((await files.exists(path)).data).toBe(true);
    expect((await files.exists(`${user.id}/missing.txt`)).data).toBe(false);
  });

  it('move renames within and across buckets; the destination must be allowed and free', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const other = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    expect((await files.upload(`${user.id}/a.bin`, bytes(100, 5))).error).toBeNull();
    expect((await files.upload(`${user.id}/taken.bin`, bytes(1))).error).toBeNull();
    expect((await files.move(`${user.id}/a.bin`, `${user.id}/taken.bin`)).error).toMatchObject({ statusCode: '409' });
    expect((await files.move(`${user.id}/a.bin`, `${other.id}/a.bin`)).error).toMatchObject({ statusCode: '403' });
    expect((await files.move(`${user.id}/a.bin`, `${user.id}/moved/b.bin`)).data).toEqual({ message: 'Successfully moved' });
    expect((await files.exists(`${user.id}/a.bin`)).data).toBe(false);
    expect(await blobBytes((await files.download(`${user.id}/moved/b.bin`)).data)).toEqual(bytes(100, 5));
    expect((await userClient(other).storage.from(bucket.id).move(`${user.id}/moved/b.bin`, `${other.id}/stolen.bin`)).error)
      .toMatchObject({ statusCode: '404' });

    const second = await testBucket({ ownFolders: false });
    const admin = serviceClient().storage.from(bucket.id);
    expect((await admin.move(`${user.id}/moved/b.bin`, 'b.bin', { destinationBucket: second.id })).error).toBeNull();
    expect(await blobBytes((await serviceClient().storage.from(second.id).download('b.bin')).data)).toEqual(bytes(100, 5));
  });

  it('copy duplicates the bytes; the copy outlives the original', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    expect((await files.upload(`${user.id}/orig.bin`, bytes(300, 6), { contentType: 'image/png' })).error).toBeNull();
    const copied = await files.copy(`${user.id}/orig.bin`, `${user.id}/copy.bin`);
    expect(copied.data).toEqual({ path: `${bucket.id}/${user.id}/copy.bin` });
    expect((await files.copy(`${user.id}/orig.bin`, `${user.id}/copy.bin`)).error).toMatchObject({ statusCode: '409' });
    expect((await files.remove([`${user.id}/orig.bin`])).data?.map((object) => object.name)).toEqual([`${user.id}/orig.bin`]);
    expect(await blobBytes((await files.download(`${user.id}/copy.bin`)).data)).toEqual(bytes(300, 6));
    expect((await files.info(`${user.id}/copy.bin`)).data).toMatchObject({ contentType: 'image/png', size: 300 });
  });

  it('remove deletes the caller’s objects and reports exactly those', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    for (const name of ['1', '2', '3']) expect((await files.upload(`${user.id}/${name}`, bytes(4))).error).toBeNull();
    const removed = await files.remove([`${user.id}/1`, `${user.id}/3`, `${user.id}/none`]);
    expect(removed.data?.map((object) => object.name).sort()).toEqual([`${user.id}/1`, `${user.id}/3`]);
    expect(names((await files.list(user.id)).data)).toEqual(['2']);
  });

  it('direct deletes of storage rows are refused (Storage’s protect_delete)', async () => {
    const bucket = await testBucket({ ownFolders: false });
    expect((await serviceClient().storage.from(bucket.id).upload('x', bytes(1))).error).toBeNull();
    await expect(adminSql()`delete from storage.objects where bucket_id = ${bucket.id}`).rejects.toMatchObject({ code: '42501' });
  });
});

describe('signed URLs', () => {
  it('a signed download URL serves the object without auth until it expires, for that object only', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    expect((await files.upload(`${user.id}/shared.bin`, bytes(77, 8))).error).toBeNull();
    expect((await files.upload(`${user.id}/private.bin`, bytes(5))).error).toBeNull();
    const signed = await files.createSignedUrl(`${user.id}/shared.bin`, 60);
    expect(signed.data?.signedUrl).toMatch(new RegExp(`^${stack.API_URL}/storage/v1/object/sign/${bucket.id}/`));
    const response = await fetch(signed.data!.signedUrl);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes(77, 8));

    const token = new URL(signed.data!.signedUrl).searchParams.get('token')!;
    const elsewhere = await fetch(`${stack.API_URL}/storage/v1/object/sign/${bucket.id}/${user.id}/private.bin?token=${token}`);
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.json()).toMatchObject({ statusCode: '400', error: 'InvalidSignature' });

    const many = await files.createSignedUrls([`${user.id}/shared.bin`, `${user.id}/none.bin`], 60);
    expect(many.data?.[0]).toMatchObject({ error: null, path: `${user.id}/shared.bin` });
    expect(many.data?.[1]).toMatchObject({ error: 'Either the object does not exist or you do not have access to it', signedUrl: null });
  });

  it('an expired download token is refused', async () => {
    const bucket = await testBucket({ ownFolders: false });
    const files = serviceClient().storage.from(bucket.id);
    expect((await files.upload('soon.bin', bytes(3))).error).toBeNull();
    const signed = await files.createSignedUrl('soon.bin', 1);
    const deadline = Date.now() + 5000;
    let response = await fetch(signed.data!.signedUrl);
    while (response.status === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      response = await fetch(signed.data!.signedUrl);
    }
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'InvalidJWT' });
  });

  it('a signed upload URL lets anyone holding it upload once to that path; a download token cannot upload, nor the reverse', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const files = userClient(user).storage.from(bucket.id);
    const path = `${user.id}/dropbox.bin`;
    const upload = await files.createSignedUploadUrl(path);
    expect(upload.error).toBeNull();
    expect(upload.data?.path).toBe(path);
    const anon = anonClient().storage.from(bucket.id);
    expect((await anon.uploadToSignedUrl(path, upload.data!.token, bytes(55, 4))).error).toBeNull();
    expect(await blobBytes((await files.download(path)).data)).toEqual(bytes(55, 4));
    expect((await anon.uploadToSignedUrl(path, upload.data!.token, bytes(5))).error).toMatchObject({ statusCode: '409' });

    // The upload token does not download ...
    const asDownload = await fetch(`${stack.API_URL}/storage/v1/object/sign/${bucket.id}/${path}?token=${upload.data!.token}`);
    expect(asDownload.status).toBe(400);
    expect(await asDownload.json()).toMatchObject({ error: 'InvalidSignature', message: 'Token is not scoped for download' });
    // ... and a download token does not upload.
    const signed = await files.createSignedUrl(path, 60);
    const downloadToken = new URL(signed.data!.signedUrl).searchParams.get('token')!;
    const asUpload = await anon.uploadToSignedUrl(`${user.id}/other.bin`, downloadToken, bytes(5));
    expect(asUpload.error).toMatchObject({ statusCode: '400' });
    const sameObject = await anon.uploadToSignedUrl(path, downloadToken, bytes(5));
    expect(sameObject.error?.message).toBe('Token is not scoped for upload');
    expect(await blobBytes((await files.download(path)).data)).toEqual(bytes(55, 4));
  });

  it('a signed upload URL is only issued to a caller RLS lets write there', async () => {
    const bucket = await testBucket();
    const user = await newUser('storage');
    const other = await newUser('storage');
    expect((await userClient(other).storage.from(bucket.id).createSignedUploadUrl(`${user.id}/x.bin`)).error)
      .toMatchObject({ statusCode: '403' });
    expect((await anonClient().storage.from(bucket.id).createSignedUploadUrl(`${user.id}/x.bin`)).error)
      .toMatchObject({ statusCode: '403' });
  });
});

describe('public buckets', () => {
  it('objects of a public bucket download without auth; a private bucket’s public URL is refused', async () => {
    const open = await testBucket({ public: true, ownFolders: false });
    const closed = await testBucket({ ownFolders: false });
    const admin = serviceClient().storage;
    expect((await admin.from(open.id).upload('pic.png', bytes(12, 2), { contentType: 'image/png' })).error).toBeNull();
    expect((await admin.from(closed.id).upload('pic.png', bytes(12, 2))).error).toBeNull();
    const url = anonClient().storage.from(open.id).getPublicUrl('pic.png').data.publicUrl;
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes(12, 2));

    // exists() and info() describe a public bucket's objects to anyone, as Storage's getObjectInfo does.
    expect((await anonClient().storage.from(open.id).exists('pic.png')).data).toBe(true);
    expect((await anonClient().storage.from(open.id).info('pic.png')).data).toMatchObject({ size: 12, contentType: 'image/png' });
    expect((await anonClient().storage.from(closed.id).exists('pic.png')).data).toBe(false);
    const infoWithoutToken = await fetch(`${stack.API_URL}/storage/v1/object/info/${closed.id}/pic.png`);
    expect(await infoWithoutToken.json()).toMatchObject({ statusCode: '404', error: 'Bucket not found' });

    const hidden = await fetch(anonClient().storage.from(closed.id).getPublicUrl('pic.png').data.publicUrl);
    expect(hidden.status).toBe(400);
    expect(await hidden.json()).toMatchObject({ statusCode: '404', error: 'Bucket not found' });
    // Still no anonymous listing or writing in the public bucket: that is for policies to grant.
    expect((await anonClient().storage.from(open.id).list('')).data).toEqual([]);
    expect((await anonClient().storage.from(open.id).upload('new.png', bytes(3))).error).toMatchObject({ statusCode: '403' });
  });

  it('downloads honour Range and If-None-Match', async () => {
    const open = await testBucket({ public: true, ownFolders: false });
    expect((await serviceClient().storage.from(open.id).upload('r.bin', bytes(1000, 7))).error).toBeNull();
    const url = serviceClient().storage.from(open.id).getPublicUrl('r.bin').data.publicUrl;
    const part = await fetch(url, { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes(1000, 7).slice(10, 20));
    const etag = (await fetch(url, { method: 'HEAD' })).headers.get('etag')!;
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });
});
