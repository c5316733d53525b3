/**
 * Serves each Edge Function of supabase/config.toml with real Deno, one process per function, as
 * the edge runtime isolates them. Functions call `Deno.serve()` without options, as on Supabase;
 * DENO_SERVE_ADDRESS tells Deno where to listen instead.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FunctionConfig } from './config.ts';
import { startService, stopService, waitForPort, type Service } from './process.ts';

/** The deno executable of the npm package `deno` (its installer places it on first use). */
export function denoBinary(): string {
  const require = createRequire(import.meta.url);
  return (require('deno/install_api.cjs') as { runInstall(): string }).runInstall();
}

export interface ServedFunction {
  config: FunctionConfig;
  port: number;
  service: Service;
}

/**
 * Environment that Supabase gives every function, plus the settings our functions document, plus
 * what Deno needs to download the functions' npm packages on a first start (the machine's CA
 * bundle and proxy: behind a TLS-intercepting proxy Deno otherwise fails with UnknownIssuer).
 */
export function functionEnv(base: Record<string, string>): Record<string, string> {
  const passThrough = Object.entries(process.env)
    .filter(([key]) => /^(SYNC_|CORS_ORIGIN$|DENO_DIR$|DENO_CERT$|DENO_TLS_CA_STORE$|SSL_CERT_(FILE|DIR)$|(HTTPS?|NO)_PROXY$|HOME$|PATH$|NPM_CONFIG_REGISTRY$)/i.test(key))
    .map(([key, value]) => [key, value ?? '']);
  // Deno trusts only its bundled roots unless told; the machine's store holds a proxy's CA.
  return { DENO_TLS_CA_STORE: 'mozilla,system', ...Object.fromEntries(passThrough), ...base };
}

export async function serveFunction(fn: FunctionConfig, port: number, env: Record<string, string>,
  logFile: string): Promise<ServedFunction> {
  const args = [
    'run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', '--no-prompt',
    ...(fn.denoConfig ? ['--config', fn.denoConfig] : []),
    fn.entrypoint,
  ];
  const service = startService(`function ${fn.name}`, denoBinary(), args, logFile, {
    env: { ...env, DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`, NO_COLOR: '1' },
    cwd: path.dirname(fn.entrypoint),
  });
  // The first start after a fresh install downloads the function's npm packages.
  await waitForPort(service, port, '127.0.0.1', 120_000);
  return { config: fn, port, service };
}

export const stopFunction = (served: ServedFunction) => stopService(served.service, 'SIGTERM', 5000);
