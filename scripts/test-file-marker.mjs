// Preloaded (--import) by scripts/run-tests.mjs into every process of `node --test`. In a test
// file's own process it writes a begin line first and an end line at exit to stdout, which node's
// runner passes on in that file's place in its report stream. scripts/test-reporter.mjs needs them
// to tell which file a test belongs to: node reports a file's tests only once every file before it
// has finished, with nothing marking where one file's tests end and the next file's begin, and a
// test defined in a shared helper (test/helpers/store-contract.ts) carries the helper's path.
// The pid ties an end line to its begin line (a process the test starts could inherit both this
// preload and the variable). In the runner's own process (no NODE_TEST_CONTEXT) it does nothing.
export const beginMarker = '::quorate-test-file-begin::';
export const endMarker = '::quorate-test-file-end::';

if (process.env['NODE_TEST_CONTEXT'] === 'child-v8') {
  process.stdout.write(`${beginMarker}${process.pid}\n`);
  process.once('exit', () => process.stdout.write(`\n${endMarker}${process.pid}\n`));
}
