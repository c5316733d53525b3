/**
 * The function runtime's validators (functions/_shared/encoding.ts) and the structure rules of issue 10, item 6:
 * functions/_shared/ imports nothing from a function's folder, and encoding.ts holds the only uuid
 * and base64 patterns of functions/.
 */
import assert from 'node:assert/strict';
import { base64urlBytes, isBase64, isUuid } from '../_shared/encoding.ts';

Deno.test('isUuid and isBase64 accept exactly their forms', () => {
  assert.ok(isUuid('6F1C1F7E-0b7a-4d0e-9a53-3a8c2f5b9d10'));
  for (const bad of ['6f1c1f7e0b7a4d0e9a533a8c2f5b9d10', '6f1c1f7e-0b7a-4d0e-9a53-3a8c2f5b9d1', '{6f1c1f7e-0b7a-4d0e-9a53-3a8c2f5b9d10}']) {
    assert.equal(isUuid(bad), false, bad);
  }
  for (const good of ['', 'QQ==', 'QUI=', 'QUJD', 'a+/b']) assert.ok(isBase64(good), good);
  for (const bad of ['QQ', 'QQ=', 'QQ===', 'a-_b', 'QU JD', 'QUJD\n']) assert.equal(isBase64(bad), false, bad);
});

Deno.test('base64urlBytes is strict: no padding, no foreign characters, no unused bits set', () => {
  assert.deepEqual([...base64urlBytes('QUI')], [65, 66]);
  assert.deepEqual([...base64urlBytes('-_8')], [251, 255]);
  for (const bad of ['QUI=', 'QUJ', 'QUK', 'Q', 'QU+I', 'QU/I', 'Q UI', 'QUI.']) {
    assert.throws(() => base64urlBytes(bad), /base64url/, bad);
  }
});

const sources = async (dir: string): Promise<Array<[string, string]>> => {
  const out: Array<[string, string]> = [];
  for await (const entry of Deno.readDir(new URL(dir, import.meta.url))) {
    if (entry.isDirectory) out.push(...await sources(`${dir}${entry.name}/`));
    else if (entry.name.endsWith('.ts')) out.push([`${dir}${entry.name}`, await Deno.readTextFile(new URL(`${dir}${entry.name}`, import.meta.url))]);
  }
  return out;
};

Deno.test('functions/_shared imports nothing from a function\'s folder', async () => {
  const offending = (await sources('../_shared/')).flatMap(([file, text]) =>
    [...text.matchAll(/from '(\.\.\/[^']*)'/g)].filter((m) => !m[1]!.startsWith('../_shared/')).map((m) => `${file}: ${m[1]}`));
  assert.deepEqual(offending, []);
});

Deno.test('encoding.ts holds the only uuid and base64 patterns of functions/, limits.ts the only limits', async () => {
  const patterns = [/\{8\}-\[?0-9/, /A-Za-z0-9\+\//, /A-Za-z0-9_-\]/, /524[_]?288|16 \* 1024 \* 1024|16777216|8388608/];
  const offending = (await sources('../')).filter(([file]) => !file.endsWith('_test.ts')
    && !/_shared\/(encoding|limits)\.ts$/.test(file))
    .flatMap(([file, text]) => patterns.filter((p) => p.test(text)).map((p) => `${file}: ${p}`));
  assert.deepEqual(offending, []);
});
