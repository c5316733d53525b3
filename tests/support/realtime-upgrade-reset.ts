/**
 * Run by tests/realtime-robustness.test.ts in a child process, because the defect it probes ends
 * the process: a server refuses a websocket upgrade, and the client reads the refusal and resets the
 * connection. Prints "alive" if the process survives. Modes (argv[2]):
 *   realtime  an HTTP server handing upgrades to RealtimeServer; the upgrade has a bad apikey (401)
 *   gateway   the stack's gateway while no Realtime server runs (503)
 */
import http from 'node:http';
import net from 'node:net';
import type { RealtimeDatabase } from '../../stack/realtime/database.ts';
import { RealtimeServer } from '../../stack/realtime/server.ts';
import { createGateway } from '../../stack/gateway.ts';
import { JwtVerifier } from '../../stack/jwt.ts';

const mode = process.argv[2] ?? 'realtime';

// A refused upgrade never reaches the database.
const jwtSecret = 'a-secret-that-signed-nothing-here-0123456789';
const verifier = new JwtVerifier(jwtSecret, []);
const realtime = new RealtimeServer({ verifier, database: {} as RealtimeDatabase });
let server: http.Server;
if (mode === 'gateway') {
  server = createGateway({
    port: 0, verifier, postgrestPort: 1, functions: new Map(), realtime: {},
    keys: { publishableKey: 'sb_publishable_x', secretKey: 'sb_secret_x', anonKey: 'a', serviceRoleKey: 's' },
  });
} else {
  server = http.createServer();
  server.on('upgrade', (req, socket, head) => realtime.handleUpgrade(req, socket, head, new URL(req.url ?? '/', 'http://x')));
}
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as net.AddressInfo;
  let resets = 0;
  const attempt = () => {
    const client = net.connect(port, '127.0.0.1', () => {
      client.write('GET /realtime/v1/websocket?apikey=not-a-jwt&vsn=2.0.0 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n'
        + 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      client.once('data', () => {
        client.resetAndDestroy();
        if (++resets < 20) setTimeout(attempt, 5);
        else setTimeout(() => { console.log('alive'); process.exit(0); }, 300);
      });
    });
    client.on('error', () => {});
  };
  attempt();
});
