/**
 * Quorate's lint rules bite: the layering rule (imports within a folder or to a lower level),
 * the clock/randomness rule (only src/core/env.ts touches them) and the 70-line function limit,
 * run with exactly the settings eslint.config.js gives src/ (scripts/eslint/quorate-plugin.js).
 * The level table and src/README.md stay equal, and every folder of src/ has a level.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import {
  clockRules,
  folderLevels,
  functionLinesMax,
  quoratePlugin,
  srcRoot,
  srcRules,
} from '../../scripts/eslint/quorate-plugin.js';

const linter = new Linter({ configType: 'flat', cwd: join(srcRoot, '..') });
const config: Linter.Config[] = [
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { quorate: quoratePlugin },
    rules: { ...srcRules, ...clockRules },
  },
];

/** Lints `code` as if it were the file `path` under src/. */
function lint(path: string, code: string): Linter.LintMessage[] {
  return linter.verify(code, config, { filename: join(srcRoot, path) });
}

function ruleIds(messages: Linter.LintMessage[]): (string | null)[] {
  return messages.map((m) => m.ruleId);
}

void describe('quorate/layering', () => {
  void it('forbids an upward import and names both folders and the rule', () => {
    const messages = lint('core/ids.ts', "import { main } from '../cli/main.ts';\nvoid main;\n");
    assert.equal(messages.length, 1);
    assert.equal(messages[0]?.ruleId, 'quorate/layering');
    assert.match(messages[0]?.message ?? '', /src\/core \(level 0\).*src\/cli \(level 5\)/);
    assert.match(messages[0]?.message ?? '', /quorate\/layering/);
  });

  void it('forbids a sideways import (two folders on one level)', () => {
    const messages = lint('session/quorum.ts', "import { x } from '../policy/rules/index.ts';\n");
    assert.deepEqual(ruleIds(messages), ['quorate/layering']);
    assert.match(messages[0]?.message ?? '', /src\/session \(level 1\).*src\/policy \(level 1\)/);
  });

  void it('counts import type, export-from, import() and import("…").T', () => {
    for (const code of [
      "import type { Coordinator } from '../coordinator/coordinator.ts';",
      "export { buildApi } from '../api/server.ts';",
      "export * from '../api/server.ts';",
      "const m = await import('../cli/main.ts');",
      "let c: import('../coordinator/coordinator.ts').Coordinator;",
    ]) {
      assert.deepEqual(ruleIds(lint('store/x.ts', code)), ['quorate/layering'], code);
    }
  });

  void it('allows the same folder, a lower level and packages', () => {
    const code = [
      "import { limits } from '../core/limits.ts';",
      "import type { Coordinator } from '../coordinator/coordinator.ts';",
      "import { schemas } from './schemas.ts';",
      "import { x } from './sub/deeper.ts';",
      "import Fastify from 'fastify';",
      "import { join } from 'node:path';",
    ].join('\n');
    assert.deepEqual(lint('api/server.ts', code), []);
  });

  void it('makes every cycle between two folders impossible', () => {
    const folders = Object.keys(folderLevels);
    const allowed = new Set<string>();
    for (const a of folders) {
      for (const b of folders) {
        if (a !== b && lint(`${a}/x.ts`, `import '../${b}/y.ts';`).length === 0) {
          allowed.add(`${a}→${b}`);
        }
      }
    }
    for (const a of folders) {
      for (const b of folders) {
        if (a === b) continue;
        const there = allowed.has(`${a}→${b}`);
        assert.ok(!(there && allowed.has(`${b}→${a}`)), `${a} and ${b} could import each other`);
        assert.equal(there, (folderLevels[b] as number) < (folderLevels[a] as number), `${a}→${b}`);
      }
    }
  });

  void it('asks a new folder for a level, and keeps imports inside src/', () => {
    assert.deepEqual(ruleIds(lint('newthing/x.ts', "import '../core/limits.ts';")), [
      'quorate/layering',
    ]);
    assert.match(lint('newthing/x.ts', '')[0]?.message ?? '', /src\/newthing has no level/);
    assert.deepEqual(ruleIds(lint('core/x.ts', "import '../../package.json';")), [
      'quorate/layering',
    ]);
  });
});

void describe('clock and randomness only through the Env', () => {
  const banned = [
    'Date.now();',
    'new Date();',
    'Date();',
    'Math.random();',
    'performance.now();',
    'process.hrtime();',
    'process.hrtime.bigint();',
    'setTimeout(() => {}, 1);',
    'setInterval(() => {}, 1);',
    'setImmediate(() => {});',
    "import { randomBytes } from 'node:crypto';",
    "import { randomInt as r } from 'crypto';",
    "import { randomUUID } from 'node:crypto';",
    "import { getRandomValues } from 'node:crypto';",
    "import * as nodeCrypto from 'node:crypto';\nnodeCrypto.randomBytes(4);",
    "import c from 'node:crypto';\nc.randomUUID();",
    'crypto.getRandomValues(new Uint8Array(4));',
    'crypto.randomUUID();',
    "import { setImmediate as macrotask } from 'node:timers/promises';",
    "import { setTimeout } from 'node:timers';",
    "import { performance as perf } from 'node:perf_hooks';",
  ];
  for (const code of banned) {
    void it(`refuses ${code.split('\n').at(-1)}`, () => {
      // Every file of src/ but env.ts, the CLI and chaos harness included.
      for (const path of ['cli/demo.ts', 'chaos/run-scenario.ts', 'session/machine.ts']) {
        const messages = lint(path, code);
        assert.equal(messages.length, 1, `${path}: ${JSON.stringify(messages)}`);
        assert.match(messages[0]?.message ?? '', /src\/core\/env\.ts/);
      }
    });
  }

  void it('allows what only formats an instant or goes through the Env', () => {
    const code = [
      "import { createHash, randomBytes as _unused } from 'node:fs';",
      "import { createPrivateKey, sign } from 'node:crypto';",
      'new Date(1_700_000_000_000).toISOString();',
      'env.randomBytes(12);',
      'env.setTimer(10, () => {});',
      'function f(crypto: { randomUUID(): string }) { return crypto.randomUUID(); }',
    ].join('\n');
    assert.deepEqual(lint('cli/policy-command.ts', code), []);
  });
});

void describe(`functions of at most ${functionLinesMax} lines`, () => {
  const fn = (lines: number, comment: boolean) => {
    const body = Array.from({ length: lines - 2 }, (_, i) =>
      comment && i % 2 === 0 ? '  // why' : i % 3 === 0 ? '' : `  void ${i};`,
    );
    return ['function f(): void {', ...body, '}'].join('\n');
  };

  void it('refuses 71 lines, counting blank and comment lines, and allows 70', () => {
    for (const comment of [false, true]) {
      assert.deepEqual(ruleIds(lint('core/x.ts', fn(functionLinesMax + 1, comment))), [
        'max-lines-per-function',
      ]);
      assert.deepEqual(lint('core/x.ts', fn(functionLinesMax, comment)), []);
    }
  });

  void it('counts immediately invoked functions and arrow functions', () => {
    const body = Array.from({ length: functionLinesMax }, (_, i) => `  void ${i};`).join('\n');
    assert.deepEqual(ruleIds(lint('core/x.ts', `(() => {\n${body}\n})();`)), [
      'max-lines-per-function',
    ]);
    assert.deepEqual(ruleIds(lint('core/x.ts', `export const g = () => {\n${body}\n};`)), [
      'max-lines-per-function',
    ]);
  });
});

void describe('the level table is the layout documentation', () => {
  void it('src/README.md lists exactly the levels of the lint rule', () => {
    const readme = readFileSync(join(srcRoot, 'README.md'), 'utf8');
    const documented: Record<string, number> = {};
    for (const match of readme.matchAll(/^\|\s*(\d)\s*\|\s*`([a-z]+)\/`\s*\|/gm)) {
      documented[match[2] as string] = Number(match[1]);
    }
    assert.deepEqual(documented, { ...folderLevels });
  });

  void it('every folder of src/ has a level', () => {
    const folders = readdirSync(srcRoot, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    assert.deepEqual(folders, Object.keys(folderLevels).sort());
  });
});
