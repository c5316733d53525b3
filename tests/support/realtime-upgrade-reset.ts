/**
 * Run by tests/realtime-robustness.test.ts in a child process, because the defect it probes ends
 * the process: an HTTP server handing upgrades to RealtimeServer, and a client that sends an upgrade
 * with a bad apikey, reads the 401 and resets the connection. Prints "alive" if the process survives.
 */
import http from 'node:http';
import net from 'node:net';
import type { RealtimeDatabase } from '../../stack/realtime/database.ts';
import { RealtimeServer } from '../../stack/realtime/server.ts';

// A refused upgrade never reaches the database.
const realtime = new RealtimeServer({ jwtSecret: 'a-secret-that-signed-nothing-here-0123456789', database: {} as RealtimeDatabase });
const server = http.createServer();
server.on('upgrade', (req, socket, head) => realtime.handleUpgrade(req, socket, head, new URL(req.url ?? '/', 'http://x')));
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
