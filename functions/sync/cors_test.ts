import assert from 'node:assert/strict';
import { corsHeaders, preflight, withCors } from '../_shared/cors.ts';

Deno.test('CORS_ORIGIN=* allows every origin without Vary', () => {
  const h = corsHeaders('*', 'https://evil.example');
  assert.equal(h['access-control-allow-origin'], '*');
  assert.equal(h['vary'], undefined);
  assert.match(h['access-control-allow-headers']!, /authorization/);
});

Deno.test('an allow-list echoes only listed origins and always adds Vary: Origin', () => {
  const list = ['https://app.example', 'http://localhost:3000'];
  assert.equal(corsHeaders(list, 'https://app.example')['access-control-allow-origin'], 'https://app.example');
  assert.equal(corsHeaders(list, 'http://localhost:3000')['access-control-allow-origin'], 'http://localhost:3000');
  for (const origin of ['https://evil.example', 'https://app.example.evil', null, '*']) {
    const h = corsHeaders(list, origin);
    assert.equal(h['access-control-allow-origin'], undefined, String(origin));
    assert.equal(h['vary'], 'Origin');
  }
});

Deno.test('preflight is 204 and withCors keeps an existing Vary', () => {
  const h = corsHeaders(['https://a.example'], 'https://a.example');
  assert.equal(preflight(h).status, 204);
  const r = withCors(new Response('x', { headers: { vary: 'Accept' } }), h);
  assert.equal(r.headers.get('vary'), 'Accept, Origin');
  assert.equal(r.headers.get('access-control-allow-origin'), 'https://a.example');
});
