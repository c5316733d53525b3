import { defineConfig } from 'vitest/config';

/**
 * The key matrix (issue 17): every test runs against the legacy stack (`hs256`); the suites that
 * speak to Auth, PostgREST, Realtime and the sync function through supabase-js, the client library
 * or raw HTTP run again against a stack signing with an ES256 key (`es256`, clients on the
 * publishable key). tests/support/global-setup.ts starts one stack per project.
 */
const ES256_SUITES = [
  'tests/auth-api.test.ts', 'tests/auth-attacks.test.ts', 'tests/auth-sessions.test.ts',
  'tests/realtime-authorization.test.ts', 'tests/realtime-live.test.ts', 'tests/realtime-pokes.test.ts',
  'tests/sync-api.test.ts', 'tests/keys-*.test.ts', 'client/test/sync.test.ts',
  'tests/devices-http.test.ts', 'tests/devices-client.test.ts', 'tests/devices-realtime.test.ts',
  'tests/sharing-http.test.ts', 'client/test/sharing.test.ts', 'tests/sharing-realtime.test.ts',
  'tests/storage-api.test.ts', 'tests/storage-objects.test.ts', 'tests/storage-tus.test.ts',
  'tests/files-client.test.ts',
];

const SETUP = 'tests/support/global-setup.ts';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Two cores: more workers only add contention against the shared stacks.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: 'forks',
    projects: [
      // globalSetup per project (not at the root, which would start a third stack).
      { extends: true, test: { name: 'hs256', include: ['tests/**/*.test.ts', 'client/**/*.test.ts'], globalSetup: [SETUP] } },
      { extends: true, test: { name: 'es256', include: ES256_SUITES, globalSetup: [SETUP] } },
    ],
  },
});
