// `preinstall` of the project: installs need npm >= 11. npm 10 (what Node 20 ships) ignores
// package.json `allowScripts` and `.npmrc` `strict-allow-scripts`, so it runs EVERY dependency's
// install script without asking, including the ones this project denies. npm runs the project's own
// preinstall only after its dependencies' install scripts, so this cannot stop npm 10 from running
// them: it fails the install loudly instead of letting it pass as if it had been safe, and says how
// to repeat it safely. Plain .mjs: nothing is built yet when it runs.
import { readFileSync } from 'node:fs';

const MINIMUM_MAJOR = 11;
const agent = process.env.npm_config_user_agent ?? '';
const npmVersion = /^npm\/(\d+)\.(\S+)/.exec(agent);

if (npmVersion && Number(npmVersion[1]) < MINIMUM_MAJOR) {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const denied = Object.entries(pkg.allowScripts ?? {}).filter(([, allowed]) => allowed === false).map(([name]) => name);
  console.error([
    '',
    `haex-sync: this install needs npm >= ${MINIMUM_MAJOR}; this is npm ${npmVersion[1]}.${npmVersion[2]}.`,
    `npm ${npmVersion[1]} ignores package.json "allowScripts", so it has just run every dependency's install script,`,
    `also those this project denies (${denied.join(', ')}). They come from the lockfile and are known,`,
    'but an install must not pass as if that had not happened. Install again with npm 11 or newer:',
    '',
    '  npm install -g npm@11   # or run one install with it: npx -y npm@11 ci',
    '  rm -rf node_modules && npm ci',
    '',
  ].join('\n'));
  process.exit(1);
}
