import assert from 'node:assert/strict';
import { HttpError } from '../_shared/errors.ts';
import { mapPostgrestError } from '../_shared/db.ts';
import { fieldPath, parse, pullOut, pullOutParsed, schemas, tablePullOut, tablePullOutParsed, vaultIdParam } from './protocol.ts';

const S = schemas({ maxLogsPerPush: 3, maxPullLimit: 1000, defaultPullLimit: 100, maxEncryptedDataChars: 8, maxPushDataChars: 12 });
const uuid = '6f1c1f7e-0b7a-4d0e-9a53-3a8c2f5b9d10';
const entry = { encryptedData: 'AAAA', nonce: 'n', haexTimestamp: 't' };

function fails(fn: () => unknown, message: RegExp) {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    return;
  }
  assert.fail('expected a 400');
}

Deno.test('fieldPath formats zod paths', () => {
  assert.equal(fieldPath(['logs', 2, 'nonce']), 'logs[2].nonce');
  assert.equal(fieldPath([]), '');
});

Deno.test('push: limits from config, strict objects, field paths in messages', () => {
  assert.deepEqual(parse(S.push, { vaultId: uuid, logs: [entry] }).logs[0], entry);
  fails(() => parse(S.push, { vaultId: uuid, logs: [entry, { ...entry, nonce: '' }] }), /^logs\[1\]\.nonce: /);
  fails(() => parse(S.push, { vaultId: uuid, logs: [entry, { ...entry, x: 1 }] }), /^logs\[1\]\.x: unknown field/);
  fails(() => parse(S.push, { vaultId: uuid, logs: [entry, entry, entry, entry] }), /^logs: must contain 1 to 3/);
  fails(() => parse(S.push, { vaultId: uuid, logs: [{ ...entry, encryptedData: 'AAAAAAAAAAAA' }] }), /^logs\[0\]\.encryptedData/);
  fails(() => parse(S.push, { vaultId: uuid, logs: [{ ...entry, encryptedData: 'AAAAAAAA' }, { ...entry, encryptedData: 'AAAAAAAA' }] }), /^logs: encryptedData must total/);
  fails(() => parse(S.push, { vaultId: uuid, logs: [{ ...entry, haexTimestamp: 'a\u0000' }] }), /NUL/);
  fails(() => parse(S.push, { vaultId: uuid, logs: [{ ...entry, haexTimestamp: '\ud800' }] }), /well-formed/);
  fails(() => parse(S.push, { logs: [entry] }), /^vaultId: is required/);
});

Deno.test('pull: defaults and integer checks', () => {
  assert.deepEqual(parse(S.pull, { vaultId: uuid }), { vaultId: uuid, afterSequence: 0, limit: 100 });
  fails(() => parse(S.pull, { vaultId: uuid, limit: 1001 }), /^limit: /);
  fails(() => parse(S.pull, { vaultId: uuid, afterSequence: 1.5 }), /^afterSequence: must be an integer/);
  fails(() => parse(S.pull, { vaultId: uuid, afterSequence: -1 }), /^afterSequence: /);
});

Deno.test('vaultIdParam accepts uuids only', () => {
  assert.equal(vaultIdParam(uuid.toUpperCase()), uuid);
  for (const bad of ['..%2F..%2Fvaults', '%E0%A4%A', `${uuid}%00`, '']) fails(() => vaultIdParam(bad), /vaultId/);
});

Deno.test('pullOut fast path equals the parsing path', () => {
  const bodies = [
    '[{"lastSequence":5,"logs":[{"id": "a", "nonce": "\\"sequence\\": 9", "sequence": 2}, {"id": "b", "sequence": 3}]}]',
    '[{"lastSequence":3,"logs":[{"id":"a","sequence":3}]}]',
    '[{"lastSequence":3,"logs":[]}]',
    '[]',
  ];
  for (const body of bodies) {
    assert.deepEqual(JSON.parse(pullOut(body, 1) ?? 'null'), JSON.parse(pullOutParsed(body, 1) ?? 'null'), body);
  }
  assert.deepEqual(JSON.parse(pullOut(bodies[0]!, 1)!), { logs: [{ id: 'a', nonce: '"sequence": 9', sequence: 2 }, { id: 'b', sequence: 3 }], hasMore: true, nextSequence: 3 });
  assert.deepEqual(JSON.parse(pullOut('[]', 7)), { logs: [], hasMore: false, nextSequence: 7 });
});

Deno.test('tablePullOut drops the extra row and equals the parsing path', () => {
  const row = (n: number) => `{"id":"${n}","nonce":"{\\"id\\": \\"sequence\\":1","sequence":${n}}`;
  const body = (from: number, count: number) => `[${Array.from({ length: count }, (_, i) => row(from + i)).join(', \n ')}]`;
  const q = (afterSequence: number, limit: number) => ({ vaultId: uuid, afterSequence, limit });
  for (const [text, query] of [[body(4, 3), q(3, 2)], [body(4, 2), q(3, 2)], [body(4, 1), q(3, 2)], ['[]', q(9, 2)]] as const) {
    assert.deepEqual(JSON.parse(tablePullOut(text, query)), JSON.parse(tablePullOutParsed(text, query)), text);
  }
  assert.deepEqual(JSON.parse(tablePullOut(body(4, 3), q(3, 2))).logs.map((l: { sequence: number }) => l.sequence), [4, 5]);
  assert.equal(JSON.parse(tablePullOut(body(4, 3), q(3, 2))).hasMore, true);
  assert.equal(JSON.parse(tablePullOut(body(4, 2), q(3, 2))).hasMore, false);
});

Deno.test('PostgREST errors map to API statuses with camelCase fields', () => {
  const e = mapPostgrestError(400, { code: 'PT400', message: 'logs[3].encrypted_data must be non-empty base64', details: 'logs[3].encrypted_data' });
  assert.equal(e.status, 400);
  assert.equal(e.message, 'logs[3].encryptedData must be non-empty base64');
  assert.equal(e.details, 'logs[3].encryptedData');
  assert.equal(mapPostgrestError(404, { code: 'PT404', message: 'vault not found' }).status, 404);
  assert.equal(mapPostgrestError(409, { code: 'PT409', message: 'x' }).code, 'conflict');
  assert.equal(mapPostgrestError(413, { code: 'PT413', message: 'x' }).status, 413);
  assert.equal(mapPostgrestError(401, { code: 'PGRST301', message: 'x' }).status, 401);
  assert.equal(mapPostgrestError(400, { code: '22P02', message: 'x' }).status, 400);
  const unexpected = mapPostgrestError(500, { code: 'XX000', message: 'secret internals' });
  assert.equal(unexpected.status, 502);
  assert.equal(unexpected.code, 'internal');
  assert.doesNotMatch(unexpected.message, /secret/);
});
