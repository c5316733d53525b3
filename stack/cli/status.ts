/** `npm run status`: the running stack's URLs and keys, as `supabase status -o json` prints them. */
import { loadConfig } from '../config.ts';
import { runningStackInfo } from '../stack.ts';

const config = loadConfig();
const info = runningStackInfo(config.dataDir);
if (!info) {
  console.error(`haex-sync is not running on ${config.dataDir}: start it with \`npm start\``);
  process.exit(1);
}
console.log(JSON.stringify(info, null, 2));
