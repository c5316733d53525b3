/** `npm run user -- EMAIL`: creates (or finds) a user of the running stack and prints a fresh access token. */
import { loadConfig } from '../config.ts';
import { runningStackInfo } from '../stack.ts';
import { ensureUser } from '../users.ts';

const email = process.argv[2];
if (!email || process.argv.length > 3) {
  console.error('usage: npm run user -- EMAIL');
  process.exit(2);
}
const config = loadConfig();
const info = runningStackInfo(config.dataDir);
if (!info) {
  console.error(`haex-sync is not running on ${config.dataDir}: start it with \`npm start\``);
  process.exit(1);
}
try {
  const user = await ensureUser(info.DB_URL, email, {
    jwtSecret: info.JWT_SECRET, apiUrl: info.API_URL, expiresInSeconds: info.JWT_EXPIRY,
  });
  console.log(JSON.stringify(user, null, 2));
} catch (error) {
  console.error(`haex-sync: ${(error as Error).message}`);
  process.exit(1);
}
