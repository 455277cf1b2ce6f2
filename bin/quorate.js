#!/usr/bin/env node
// Entry point for the `quorate` command: runs the compiled CLI in dist/ (built by `npm run build`,
// which `npm ci` runs through the `prepare` script). Plain JavaScript at run time: no TypeScript
// loader, so a command starts about as fast as node itself.
import { existsSync } from 'node:fs';

const mainUrl = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(mainUrl)) {
  process.stderr.write(
    `quorate: the compiled CLI is missing (${mainUrl.pathname}): run npm run build\n`,
  );
  process.exit(1);
}
const { main } = await import(mainUrl.href);
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A command has finished (or was stopped by a signal). Exit now if nothing is left to run;
// otherwise a leftover timer or socket gets 200 ms (piped stdout drains) and is then cut off.
setTimeout(() => process.exit(code), 200).unref();
