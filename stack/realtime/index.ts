/** Starts the embedded Realtime server (see server.ts) on the stack's database. */
import type { JwtVerifier } from '../jwt.ts';
import { RealtimeDatabase } from './database.ts';
import { RealtimeServer } from './server.ts';
import { watchEndedSessions } from './sessions.ts';

export { RealtimeServer } from './server.ts';

export async function startRealtime(options: { dbUrl: string; verifier: JwtVerifier }): Promise<RealtimeServer> {
  const database = new RealtimeDatabase(options.dbUrl);
  const server = new RealtimeServer({ database, verifier: options.verifier });
  try {
    await server.start();
    const stopWatch = watchEndedSessions(server, database); // issue 19: channels of ended sessions
    const stop = server.stop.bind(server);
    server.stop = async () => { stopWatch(); await stop(); };
  } catch (error) {
    await server.stop().catch(() => {});
    throw error;
  }
  return server;
}
