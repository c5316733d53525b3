/**
 * Deno entry for bench/profile-edge.ts: serves the `sync` function's handler as the stack does,
 * and exits cleanly on SIGTERM so that `deno run --cpu-prof` writes its profile.
 */
import { handler } from '../../functions/sync/index.ts';

Deno.addSignalListener('SIGTERM', () => Deno.exit(0));
Deno.serve({ hostname: '127.0.0.1', port: Number(Deno.env.get('PROFILE_PORT')), onListen: () => {} }, handler);
