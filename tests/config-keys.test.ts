/**
 * `[auth]` key settings read as the CLI reads them (pkg/config): `signing_keys_path` relative to
 * supabase/, its env override SUPABASE_AUTH_SIGNING_KEYS_PATH, `publishable_key` / `secret_key` and
 * their env overrides, the CLI's local defaults, and clear errors for unusable key files.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../stack/config.ts';
import { apiKeysFor } from '../stack/defaults.ts';
import { JwtVerifier, resolveJwks } from '../stack/jwt.ts';
import { cliSigningKey } from './support/signing-keys.ts';

/** A project root with our config.toml, plus `authLines` at the top of its [auth] table. */
function project(authLines = ''): string {
  const root = mkdtempSync(path.join(tmpdir(), 'haex-config-'));
  mkdirSync(path.join(root, 'supabase'));
  copyFileSync(path.join(PROJECT_ROOT, 'supabase', 'config.toml'), path.join(root, 'supabase', 'config.toml'));
  if (authLines) {
    const file = path.join(root, 'supabase', 'config.toml');
    const toml = readFileSync(file, 'utf8');
    writeFileSync(file, toml.replace('[auth]\nenabled = true\n', `[auth]\nenabled = true\n${authLines}\n`));
  }
  return root;
}

describe('signing keys', () => {
  const es = cliSigningKey('ES256');
  const rs = cliSigningKey('RS256');

  it('reads [auth] signing_keys_path relative to supabase/, and the env override wins', () => {
    const root = project('signing_keys_path = "./keys/signing_keys.json"');
    mkdirSync(path.join(root, 'supabase', 'keys'));
    writeFileSync(path.join(root, 'supabase', 'keys', 'signing_keys.json'), JSON.stringify([es, rs]));
    const fromToml = loadConfig({}, root);
    expect(fromToml.signingKeysPath).toBe(path.join(root, 'supabase', 'keys', 'signing_keys.json'));
    expect(fromToml.signingKeys.map((k) => k.kid)).toEqual([es.kid, rs.kid]);
    writeFileSync(path.join(root, 'supabase', 'other.json'), JSON.stringify([rs]));
    const fromEnv = loadConfig({ SUPABASE_AUTH_SIGNING_KEYS_PATH: './other.json' }, root);
    expect(fromEnv.signingKeys.map((k) => k.kid)).toEqual([rs.kid]);
  });

  it('signs with the first key (RS256 too) and publishes every key\'s public part', () => {
    const keys = [rs, es];
    const { anonKey } = apiKeysFor('unused-secret-unused-secret-unused-secret', keys);
    expect(JSON.parse(Buffer.from(anonKey.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'RS256', kid: rs.kid, typ: 'JWT' });
    expect(new JwtVerifier('x'.repeat(32), keys).verify(anonKey)).toMatchObject({ role: 'anon' });
    const jwks = resolveJwks('x'.repeat(32), keys);
    expect(jwks.keys.map((k) => [k.kid, k.alg, 'd' in k])).toEqual([[rs.kid, 'RS256', false], [es.kid, 'ES256', false]]);
    expect(resolveJwks('s'.repeat(32), [])).toEqual({ keys: [{ kty: 'oct', k: Buffer.from('s'.repeat(32)).toString('base64url') }] });
  });

  it('refuses a missing file, non-JSON, a public key, HS256 or an empty array, naming the file', () => {
    const root = project();
    const write = (name: string, text: string) => {
      writeFileSync(path.join(root, 'supabase', name), text);
      return { SUPABASE_AUTH_SIGNING_KEYS_PATH: `./${name}` };
    };
    const { d: _d, ...publicOnly } = es;
    expect(() => loadConfig({ SUPABASE_AUTH_SIGNING_KEYS_PATH: './nope.json' }, root)).toThrow(/nope\.json does not exist.*gen signing-key/);
    expect(() => loadConfig(write('a.json', '{not json'), root)).toThrow(/a\.json is not JSON/);
    expect(() => loadConfig(write('b.json', JSON.stringify(es)), root)).toThrow(/b\.json: signing keys must be a JSON array/);
    expect(() => loadConfig(write('c.json', JSON.stringify([publicOnly])), root)).toThrow(/c\.json: key 0 .*no private part/);
    expect(() => loadConfig(write('d.json', JSON.stringify([{ kty: 'oct', alg: 'HS256', k: 'abc' }])), root)).toThrow(/d\.json: key 0.*only ES256/);
    expect(() => loadConfig(write('e.json', '[]'), root)).toThrow(/e\.json holds no key/);
  });
});

describe('publishable and secret keys', () => {
  it('default to the CLI\'s local keys; [auth] publishable_key / secret_key and their env overrides replace them', () => {
    const defaults = loadConfig({}, project());
    expect([defaults.publishableKey, defaults.secretKey]).toEqual(['sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH', 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz']);
    const root = project('publishable_key = "sb_publishable_fromtoml"\nsecret_key = "sb_secret_fromtoml"');
    expect([loadConfig({}, root).publishableKey, loadConfig({}, root).secretKey]).toEqual(['sb_publishable_fromtoml', 'sb_secret_fromtoml']);
    const env = loadConfig({ SUPABASE_AUTH_PUBLISHABLE_KEY: 'sb_publishable_fromenv', SUPABASE_AUTH_SECRET_KEY: 'sb_secret_fromenv' }, root);
    expect([env.publishableKey, env.secretKey]).toEqual(['sb_publishable_fromenv', 'sb_secret_fromenv']);
    expect(() => loadConfig({ SUPABASE_AUTH_SECRET_KEY: 'sb_publishable_swapped' }, root)).toThrow(/secret_key must start with sb_secret_/);
  });
});

describe('[haex] vault_quota_bytes (issue 26)', () => {
  it('is the default vault quota in bytes (10 GiB in our config.toml), undefined without the line, and refused unless a positive integer', () => {
    expect(loadConfig({}, project()).vaultQuotaBytes).toBe(10 * 1024 ** 3);
    const withQuota = (line: string) => {
      const root = project();
      const file = path.join(root, 'supabase', 'config.toml');
      const toml = readFileSync(file, 'utf8');
      expect(toml).toMatch(/^vault_quota_bytes = \d+$/m);
      writeFileSync(file, toml.replace(/^vault_quota_bytes = \d+$/m, line));
      return root;
    };
    expect(loadConfig({}, withQuota('')).vaultQuotaBytes).toBeUndefined();
    expect(loadConfig({}, withQuota('vault_quota_bytes = 1048576')).vaultQuotaBytes).toBe(1048576);
    for (const bad of ['0', '-5', '1.5', '"10GB"']) {
      expect(() => loadConfig({}, withQuota(`vault_quota_bytes = ${bad}`))).toThrow(/\[haex\] vault_quota_bytes must be a positive integer/);
    }
  });
});
