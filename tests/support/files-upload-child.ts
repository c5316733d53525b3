/**
 * A device that uploads a file and gets killed midway (tests/files-client.test.ts): signs in, opens
 * the vault with its password, and puts `FILE_SIZE` deterministic bytes as `FILE_ID` in chunks of
 * 64 KiB, one at a time, printing `stored <bytes>` after each chunk. The test kills it with SIGKILL.
 */
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { HaexSyncClient } from '../../client/src/index.ts';
import { fileBytes } from './files.ts';

const env = process.env as Record<string, string>;
const supabase = createClient(env.SUPABASE_URL!, env.SUPABASE_KEY!, {
  auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
});
const { error } = await supabase.auth.setSession({ access_token: env.ACCESS_TOKEN!, refresh_token: env.REFRESH_TOKEN! });
if (error) throw error;
const client = HaexSyncClient.create({ supabase, files: { chunkSize: 64 * 1024, concurrency: 1 } });
const vault = await client.unlockVault(env.VAULT_ID!, env.VAULT_PASSWORD!);
await vault.putFile(fileBytes(Number(env.FILE_SIZE)), {
  fileId: env.FILE_ID, onProgress: (done) => process.stdout.write(`stored ${done}\n`),
});
process.stdout.write('done\n');
