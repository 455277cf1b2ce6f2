#!/usr/bin/env node
// Entry point for the `quorate` command: loads the TypeScript CLI through tsx so that
// `npm ci` alone leaves a working command (no separate build step).
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
