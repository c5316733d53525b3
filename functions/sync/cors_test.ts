import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { corsMiddleware } from '../_shared/cors.ts';

const appWith = (origins: '*' | string[]) => {
  const app = new Hono();
  app.use('*', corsMiddleware(origins));
  app.get('/x', (c) => c.text('x'));
  return app;
};
const get = (app: Hono, origin?: string, method = 'GET') =>
  app.request('/x', { method, headers: origin ? { origin, 'access-control-request-method': 'POST' } : {} });

Deno.test('CORS_ORIGIN=* allows every origin', async () => {
  const r = await get(appWith('*'), 'https://evil.example');
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
});

Deno.test('an allow-list echoes only listed origins and adds Vary: Origin', async () => {
  const app = appWith(['https://app.example', 'http://localhost:3000']);
  assert.equal((await get(app, 'https://app.example')).headers.get('access-control-allow-origin'), 'https://app.example');
  assert.equal((await get(app, 'http://localhost:3000')).headers.get('access-control-allow-origin'), 'http://localhost:3000');
  for (const origin of ['https://evil.example', 'https://app.example.evil']) {
    const r = await get(app, origin);
    assert.equal(r.headers.get('access-control-allow-origin'), null, origin);
    assert.match(r.headers.get('vary') ?? '', /Origin/);
  }
});

Deno.test('a preflight is 204 with the allowed headers and methods', async () => {
  const r = await get(appWith(['https://a.example']), 'https://a.example', 'OPTIONS');
  assert.equal(r.status, 204);
  assert.match(r.headers.get('access-control-allow-headers') ?? '', /authorization/);
  assert.match(r.headers.get('access-control-allow-methods') ?? '', /PUT/);
  assert.equal(r.headers.get('access-control-allow-origin'), 'https://a.example');
});
