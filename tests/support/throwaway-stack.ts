/** A throwaway embedded stack on a temporary data dir and free ports, for tests and benchmarks. */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type AuthSettings, type StackConfig } from '../../stack/config.ts';
import { freePort, startStack, type RunningStack } from '../../stack/stack.ts';

/** `auth` overrides single `[auth]` settings of config.toml (e.g. the rate limits), the rest stays as configured. */
export async function startThrowawayStack(options: {
  dataDir?: string; quiet?: boolean; config?: Partial<StackConfig>; auth?: Partial<AuthSettings>;
  /** Extra environment for loadConfig (e.g. SUPABASE_AUTH_SIGNING_KEYS_PATH). */
  env?: Record<string, string>;
} = {}):
  Promise<RunningStack & { dataDir: string; dispose(): Promise<void> }> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'haex-sync-'));
  chmodSync(dataDir, 0o755); // the postgres OS user must reach its data below
  const config = loadConfig({
    ...process.env,
    HAEX_DATA_DIR: dataDir,
    HAEX_API_PORT: String(await freePort()),
    HAEX_DB_PORT: String(await freePort()),
    ...options.env,
  });
  Object.assign(config, options.config);
  Object.assign(config.auth, options.auth);
  const stack = await startStack(config, { ephemeral: true, log: options.quiet ? () => {} : undefined });
  return {
    ...stack,
    dataDir,
    async dispose() {
      await stack.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
