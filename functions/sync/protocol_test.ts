import assert from 'node:assert/strict';
import { HttpError } from '../_shared/errors.ts';
import { mapPostgrestError } from '../_shared/db.ts';
import { checkedPageStream, pageOut, pageOutParsed } from '../_shared/pull.ts';
import { fieldPath, parse, schemas, vaultIdParam } from './protocol.ts';

const S = schemas({ maxLogsPerPush: 3, maxPullLimit: 1000, defaultPullLimit: 100, maxEncryptedDataChars: 8, maxPushDataChars: 12 });
const uuid = '6f1c1f7e-0b7a-4d0e-9a53-3a8c2f5b9d10';
const entry = { encryptedData: 'AAAA', nonce: 'n', haexTimestamp: 't' };

function fails(fn: () => unknown, message: RegExp, status = 400) {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, status, error.message);
    assert.match(error.message, message);
    return;
  }
  assert.fail(`expected a ${status}`);
}

Deno.test('fieldPath formats zod paths', () => {
  assert.equal(fieldPath(['logs', 2, 'nonce']), 'logs[2].nonce');
  assert.equal(fieldPath([]), '');
});

Deno.test('push: limits from config, strict objects, field paths in messages', () => {
  assert.deepEqual(parse(S.push, { vaultId: uuid, logs: [entry] }).logs[0], entry);
  fails(() => parse(S.push, { vaultId: uuid, logs: [entry, { ...entry, nonce: '' }] }), /^logs\[1\]\.nonce: /);
  fails(() => parse(S.push, { vaultId: uuid, logs: [entry, { ...entry, x: 1 }] }), /^logs\[1\]\.x: unknown field/);
  // Size limits are 413, as push_logs answers them (PT413); an empty push or empty data stays 400.
  fails(() => parse(S.push, { vaultId: uuid, logs: [entry, entry, entry, entry] }), /^logs: must contain 1 to 3/, 413);
  fails(() => parse(S.push, { vaultId: uuid, logs: [{ ...entry, encryptedData: 'AAAAAAAAAAAA' }] }), /^logs\[0\]\.encryptedData/, 413);
  fails(() => parse(S.push, { vaultId: uuid, logs: [{ ...entry, encryptedData: 'AAAAAAAA' }, { ...entry, encryptedData: 'AAAAAAAA' }] }), /^logs: encryptedData must total/, 413);
  fails(() => parse(S.push, { vaultId: uuid, logs: [] }), /^logs: must contain 1 to 3/);
  fails(() => parse(S.push, { vaultId: uuid, logs: [{ ...entry, encryptedData: '' }] }), /^logs\[0\]\.encryptedData/);
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

Deno.test('pageOut renames the page\'s keys in place and equals the parsing path', () => {
  const log = (n: number, device = 'd') => `{"id":"${n}","vault_id":"v","sequence":${n},"encrypted_data":"e${n}",`
    + `"device_id":${JSON.stringify(device)},"record_key":null}`;
  const answer = (logs: string, state: string) => `[{"logs":[${logs}],${state}}]`;
  const state = (more: boolean, next: number, last: number, compacted = 3) =>
    `"has_more":${more},"next_sequence":${next},"last_sequence":${last},"compacted_through":${compacted}`;
  // A device id that looks like a key must stay as it is (JSON escapes its quotes).
  const tricky = '{"x_y":1,"has_more":true}';
  const bodies = [
    answer([4, 5].map((n) => log(n)).join(','), state(true, 5, 9)),
    answer(log(9, tricky), state(false, 9, 9)),
    answer('', state(false, 7, 7)),
  ];
  for (const body of bodies) assert.deepEqual(JSON.parse(pageOut(body)), JSON.parse(pageOutParsed(body)), body);
  assert.deepEqual(JSON.parse(pageOut(bodies[0]!)), {
    logs: [4, 5].map((n) => ({ id: String(n), vaultId: 'v', sequence: n, encryptedData: `e${n}`, deviceId: 'd', recordKey: null })),
    hasMore: true, nextSequence: 5, lastSequence: 9, compactedThrough: 3,
  });
  assert.equal(JSON.parse(pageOut(bodies[1]!)).logs[0].deviceId, tricky);
  assert.deepEqual(JSON.parse(pageOut(bodies[2]!)), { logs: [], hasMore: false, nextSequence: 7, lastSequence: 7, compactedThrough: 3 });
  // Two rows, no row, a state that is not one, or no logs array are not a page.
  for (const bad of [`[${bodies[0]!.slice(1, -1)},${bodies[2]!.slice(1, -1)}]`, '[]', 'null',
    answer(log(1), state(true, 1, 9).replace('true', '"yes"')), '[{"has_more":false,"next_sequence":1,"last_sequence":1,"compacted_through":0}]']) {
    assert.throws(() => pageOut(bad), (e: unknown) => e instanceof HttpError && e.status === 500, bad);
  }
});

Deno.test('PostgREST errors map to API statuses with camelCase fields', () => {
  const e = mapPostgrestError(400, { code: 'PT400', message: 'logs[3].encrypted_data must be non-empty base64', details: 'logs[3].encrypted_data' });
  assert.equal(e.status, 400);
  assert.equal(e.message, 'logs[3].encryptedData must be non-empty base64');
  assert.equal(e.details, 'logs[3].encryptedData');
  assert.equal(mapPostgrestError(404, { code: 'PT404', message: 'vault not found' }).status, 404);
  assert.equal(mapPostgrestError(409, { code: 'PT409', message: 'x' }).code, 'conflict');
  assert.equal(mapPostgrestError(409, { code: 'PT409', message: 'x', hint: 'vault_deleted' }).code, 'vault_deleted');
  assert.equal(mapPostgrestError(409, { code: 'PT409', message: 'x', hint: 'cursor_ahead' }).code, 'cursor_ahead');
  assert.equal(mapPostgrestError(413, { code: 'PT413', message: 'x' }).status, 413);
  // issue 26: a push past the vault's byte quota
  assert.equal(mapPostgrestError(413, { code: 'PT413', message: 'x', hint: 'quota_exceeded' }).code, 'quota_exceeded');
  assert.equal(mapPostgrestError(413, { code: 'PT413', message: 'x' }).code, 'payload_too_large');
  assert.equal(mapPostgrestError(409, { code: 'PT409', message: 'x', hint: 'vault_files_remain' }).code, 'vault_files_remain');
  assert.equal(mapPostgrestError(401, { code: 'PGRST301', message: 'x' }).status, 401);
  // Fixed rows: PostgreSQL's own message text never comes through.
  for (const [code, status, apiCode] of [['22P02', 400, 'bad_request'], ['22001', 400, 'bad_request'],
    ['42501', 403, 'forbidden'], ['57014', 503, 'unavailable'], ['40P01', 503, 'unavailable'], ['53300', 503, 'unavailable'],
    ['23505', 500, 'internal'], ['23503', 500, 'internal'], ['XX000', 500, 'internal'], ['P0001', 500, 'internal'],
    ['', 500, 'internal']] as const) {
    const mapped = mapPostgrestError(400, { code, message: 'secret internals: duplicate key value violates', details: 'Key (id)=(x)' });
    assert.deepEqual([mapped.status, mapped.code, mapped.details], [status, apiCode, undefined], code);
    assert.doesNotMatch(mapped.message, /secret|duplicate|Key/, code);
  }
});

Deno.test('pageOut passes pull_page\'s text (already the API page) through untouched, and refuses one without its state', () => {
  const page = '{"logs":[{"vaultId":"v","sequence":4,"deviceId":"{\\"x_y\\":1}"}],"hasMore":true,"nextSequence":4,"lastSequence":9,"compactedThrough":0}';
  assert.equal(pageOut(page), page); // the same string: no parse, no copy
  assert.equal(pageOut('{"logs":[],"hasMore":false,"nextSequence":7,"lastSequence":7,"compactedThrough":3}'),
    '{"logs":[],"hasMore":false,"nextSequence":7,"lastSequence":7,"compactedThrough":3}');
  for (const bad of ['{"logs":[]}', '{"logs":[],"hasMore":"yes","nextSequence":7,"lastSequence":7,"compactedThrough":3}',
    '{"logs":[],"hasMore":false,"nextSequence":7,"lastSequence":7}']) {
    assert.throws(() => pageOut(bad), (e: unknown) => e instanceof HttpError && e.status === 500, bad);
  }
});

/** Streams `text` through checkedPageStream in chunks of `size` bytes; the bytes out, or the error. */
async function throughCheck(text: string, size: number): Promise<string | Error> {
  const bytes = new TextEncoder().encode(text);
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
      controller.close();
    },
  });
  try {
    return await new Response(checkedPageStream(source)).text();
  } catch (error) {
    return error as Error;
  }
}

Deno.test('checkedPageStream passes a page on byte for byte in any chunking, and cuts off a body without the page frame', async () => {
  const long = 'x'.repeat(500);
  const page = `{"logs":[{"vaultId":"v","sequence":4,"encryptedData":"${long}","deviceId":"é{\\"x\\":1}"}],"hasMore":true,"nextSequence":4,"lastSequence":9,"compactedThrough":0}`;
  const empty = '{"logs":[],"hasMore":false,"nextSequence":7,"lastSequence":7,"compactedThrough":3}';
  for (const size of [1, 3, 9, 10, 159, 160, 161, 4096]) {
    assert.equal(await throughCheck(page, size), page, `chunks of ${size}`);
    assert.equal(await throughCheck(empty, size), empty, `chunks of ${size}`);
  }
  const console_error = console.error;
  console.error = () => {};
  try {
    for (const bad of ['', '{"logs":', '"{\\"logs\\":[]}"', `{"logs":[{"x":"${long}"}]}`,
      '{"logs":[],"hasMore":"yes","nextSequence":7,"lastSequence":7,"compactedThrough":3}',
      `[{"logs":[],"has_more":false,"next_sequence":7,"last_sequence":7,"compacted_through":3}]`,
      '{"lags":[],"hasMore":false,"nextSequence":7,"lastSequence":7,"compactedThrough":3}', // the state, but no page start
      '"{\\"logs\\":[],\\"hasMore\\":false}"],"hasMore":false,"nextSequence":7,"lastSequence":7,"compactedThrough":3}']) {
      for (const size of [1, 7, 4096]) {
        const out = await throughCheck(bad, size);
        assert.ok(out instanceof Error, `${bad.slice(0, 40)} in chunks of ${size} passed`);
      }
    }
  } finally {
    console.error = console_error;
  }
});
