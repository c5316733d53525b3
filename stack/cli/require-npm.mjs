// `preinstall` of the project: installs need npm >= 11. npm 10 (what Node 20 ships) ignores
// package.json `allowScripts` and `.npmrc` `strict-allow-scripts`, so it runs EVERY dependency's
// install script without asking, including the ones this project denies. npm runs the project's own
// preinstall only after its dependencies' install scripts, so this cannot stop npm 10 from running
// them: it fails the install loudly instead of letting it pass as if it had been safe, and says how
// to repeat it safely. Plain .mjs: nothing is built yet when it runs.
//
// Which npm runs: `npm_execpath`, which every npm sets to its own bin/npm-cli.js before running a
// script, whatever it inherited. Not `npm_config_user_agent` nor `npm_config_npm_version`: npm reads
// `npm_config_*` variables as its configuration, so an npm started by another (`npx -y npm@10 ci`
// from npm 11) inherits the outer npm's user agent and passes it on as its own.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const MINIMUM_MAJOR = 11;

/** The running npm's version, or null when npm did not start this script (yarn, pnpm, by hand). */
function runningNpmVersion(env = process.env) {
  const execpath = env.npm_execpath;
  if (!execpath) return null;
  const manifest = path.join(path.dirname(execpath), '..', 'package.json');
  if (!existsSync(manifest)) return null;
  const { name, version } = JSON.parse(readFileSync(manifest, 'utf8'));
  return name === 'npm' && typeof version === 'string' ? version : null;
}

const version = runningNpmVersion();
const major = version ? Number(version.split('.')[0]) : null;

if (major !== null && major < MINIMUM_MAJOR) {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const denied = Object.entries(pkg.allowScripts ?? {}).filter(([, allowed]) => allowed === false).map(([name]) => name);
  console.error([
    '',
    `haex-sync: this install needs npm >= ${MINIMUM_MAJOR}; this is npm ${version} (${process.env.npm_execpath}).`,
    `npm ${major} ignores package.json "allowScripts", so it has just run every dependency's install script,`,
    `also those this project denies (${denied.join(', ')}). They come from the lockfile and are known,`,
    'but an install must not pass as if that had not happened. Install again with npm 11 or newer:',
    '',
    '  npm install -g npm@11   # or run one install with it: npx -y npm@11 ci',
    '  rm -rf node_modules && npm ci',
    '',
  ].join('\n'));
  process.exit(1);
}
