#!/usr/bin/env node
// Entry point for the `quorate` command: loads the TypeScript CLI through tsx so that
// `npm ci` alone leaves a working command (no separate build step).
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A command has finished (or was stopped by a signal): do not let a leftover timer or socket
// keep the process alive, but give piped stdout a moment to drain first.
setTimeout(() => process.exit(code), 200);
