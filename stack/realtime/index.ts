/** Starts the embedded Realtime server (see server.ts) on the stack's database. */
import { RealtimeDatabase } from './database.ts';
import { RealtimeServer } from './server.ts';

export { RealtimeServer } from './server.ts';

export async function startRealtime(options: { dbUrl: string; jwtSecret: string }): Promise<RealtimeServer> {
  const database = new RealtimeDatabase(options.dbUrl);
  const server = new RealtimeServer({ database, jwtSecret: options.jwtSecret });
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => {});
    throw error;
  }
  return server;
}
