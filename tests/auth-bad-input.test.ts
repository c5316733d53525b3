/**
 * Edge inputs to the embedded Auth service answered as GoTrue answers them (internal/api/helpers.go
 * retrieveRequestParams, middleware.go limitRequestBody, token_refresh.go): an empty body is bad JSON,
 * a body over 1 MiB is 413 request_entity_too_large, a refresh grant without a token is an OAuth
 * error, and a DELETE of a user may come without a body. Never a 500.
 */
import { describe, expect, it } from 'vitest';
import { adminClient, newEmail, newPassword } from './support/auth.ts';
import { stack } from './support/stack.ts';

/** A raw POST with `body` as given (not JSON-encoded), with the API version header. */
async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.API_URL}/auth/v1${path}`, {
    method: 'POST', body,
    headers: { apikey: stack.ANON_KEY, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01', ...headers },
  });
  const text = await response.text();
  return { status: response.status, errorCode: response.headers.get('x-sb-error-code'), body: text ? JSON.parse(text) : null };
}

describe('request bodies', () => {
  it.each(['/signup', '/token?grant_type=password', '/token?grant_type=refresh_token'])(
    'an empty body to POST %s is 400 bad_json, as GoTrue\'s JSON decoding of nothing', async (path) => {
      expect(await post(path, '')).toEqual({
        status: 400, errorCode: 'bad_json',
        body: { code: 'bad_json', message: 'Could not parse request body as JSON: unexpected end of JSON input' },
      });
    });

  it('a body over 1 MiB is 413 request_entity_too_large with GoTrue\'s message', async () => {
    const huge = JSON.stringify({ email: newEmail(), password: newPassword(), data: { pad: 'x'.repeat(1 << 20) } });
    expect(await post('/signup', huge)).toEqual({
      status: 413, errorCode: 'request_entity_too_large',
      body: { code: 'request_entity_too_large', message: 'Request body too large (max 1048576 bytes)' },
    });
  });

  it('a refresh grant without refresh_token is GoTrue\'s OAuth error: 400 {error: invalid_request, error_description}', async () => {
    for (const body of ['{}', '{"refresh_token":""}']) {
      expect(await post('/token?grant_type=refresh_token', body)).toEqual({
        status: 400, errorCode: null, body: { error: 'invalid_request', error_description: 'refresh_token required' },
      });
    }
  });

  it('DELETE /admin/users/ID without a body deletes the user (GoTrue reads that body only when present)', async () => {
    const admin = adminClient();
    const { data } = await admin.auth.admin.createUser({ email: newEmail('nobody'), password: newPassword() });
    const res = await fetch(`${stack.API_URL}/auth/v1/admin/users/${data.user!.id}`, {
      method: 'DELETE', headers: { apikey: stack.SERVICE_ROLE_KEY, authorization: `Bearer ${stack.SERVICE_ROLE_KEY}` },
    });
    expect(res.status).toBe(200);
    expect((await admin.auth.admin.getUserById(data.user!.id)).error).toMatchObject({ status: 404, code: 'user_not_found' });
  });
});
