// Quorate's own lint rules, loaded by eslint.config.js as the plugin `quorate`:
//   - quorate/layering: imports between the top-level folders of src/ follow `folderLevels`;
//   - quorate/clock-and-randomness-imports: the clock, timers and randomness of node:crypto,
//     node:timers and node:perf_hooks reach src/ only through the Env (src/core/env.ts);
// and the rule settings src/ gets (`srcRules`, `clockRules`), so the config and the tests that
// prove the rules bite (test/unit/lint-rules.test.ts) use one definition.
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory whose top-level folders the layering rule orders. */
export const srcRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * The level of every top-level folder of src/ (documented in src/README.md; a test keeps the two
 * equal). A file may import from its own folder or from a folder on a strictly lower level:
 * never upward, never sideways. Sideways is banned too because two folders on one level that
 * import each other are a cycle, and one that imports the other is really on a higher level.
 */
export const folderLevels = Object.freeze({
  core: 0,
  protocol: 1,
  session: 1,
  detector: 1,
  policy: 1,
  store: 2,
  transport: 2,
  checker: 2,
  party: 3,
  coordinator: 3,
  api: 4,
  sim: 4,
  chaos: 4,
  cli: 5,
});

/** The top-level folder of src/ that `file` lies in, or undefined when it is not in one. */
function folderOf(file) {
  const path = relative(srcRoot, file);
  if (path === '' || path.startsWith('..') || isAbsolute(path)) return undefined;
  const parts = path.split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

const levelOf = (folder) =>
  Object.hasOwn(folderLevels, folder) ? folderLevels[folder] : undefined;

/** Every node that names a module: import, export-from, import(), import type, import = require. */
function moduleSources(report) {
  const check = (node, source) => {
    if (source?.type === 'Literal' && typeof source.value === 'string') report(node, source.value);
  };
  return {
    ImportDeclaration: (node) => check(node, node.source),
    ExportNamedDeclaration: (node) => check(node, node.source),
    ExportAllDeclaration: (node) => check(node, node.source),
    ImportExpression: (node) => check(node, node.source),
    TSImportType: (node) => check(node, node.argument?.literal ?? node.argument),
    TSExternalModuleReference: (node) => check(node, node.expression),
  };
}

const layering = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports between src/ folders go to the same folder or a lower level.' },
    schema: [],
    messages: {
      upward:
        'src/{{from}} (level {{fromLevel}}) may not import src/{{to}} (level {{toLevel}}): quorate/layering allows imports only within a folder or to a lower level (see src/README.md).',
      unknownFolder:
        'src/{{folder}} has no level in the quorate/layering table (scripts/eslint/quorate-plugin.js): give it one and document it in src/README.md.',
      notInFolder:
        '{{path}} is not inside a top-level folder of src/: quorate/layering needs every source file in a folder with a level.',
    },
  },
  create(context) {
    const from = folderOf(context.physicalFilename);
    if (from === undefined) {
      const inSrc = !relative(srcRoot, context.physicalFilename).startsWith('..');
      if (!inSrc) return {};
      return {
        Program: (node) =>
          context.report({
            node,
            messageId: 'notInFolder',
            data: { path: relative(srcRoot, context.physicalFilename) },
          }),
      };
    }
    const fromLevel = levelOf(from);
    if (fromLevel === undefined) {
      return {
        Program: (node) =>
          context.report({ node, messageId: 'unknownFolder', data: { folder: from } }),
      };
    }
    return moduleSources((node, specifier) => {
      if (!specifier.startsWith('.')) return; // packages and node: builtins
      const target = resolve(dirname(context.physicalFilename), specifier);
      const to = folderOf(target);
      if (to === from) return;
      if (to === undefined) {
        context.report({
          node,
          messageId: 'notInFolder',
          data: { path: relative(srcRoot, target) },
        });
        return;
      }
      const toLevel = levelOf(to);
      if (toLevel === undefined) {
        context.report({ node, messageId: 'unknownFolder', data: { folder: to } });
        return;
      }
      if (toLevel < fromLevel) return;
      context.report({
        node,
        messageId: 'upward',
        data: { from, to, fromLevel: String(fromLevel), toLevel: String(toLevel) },
      });
    });
  },
};

/** Names that read the clock, start a timer or draw randomness, per built-in module. */
const envOnlyExports = {
  crypto: [
    'randomBytes',
    'randomInt',
    'randomUUID',
    'getRandomValues',
    'randomFillSync',
    'randomFill',
    'webcrypto',
  ],
  timers: ['setTimeout', 'setInterval', 'setImmediate'],
  'timers/promises': ['setTimeout', 'setInterval', 'setImmediate', 'scheduler'],
  perf_hooks: ['performance'],
};

const moduleKey = (source) => (source.startsWith('node:') ? source.slice(5) : source);

const clockAndRandomnessImports = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'node:crypto randomness, node:timers and node:perf_hooks reach src/ only through the Env.',
    },
    schema: [],
    messages: {
      named:
        "'{{name}}' from '{{source}}' reads the clock, starts a timer or draws randomness: use the Env (src/core/env.ts), the only module allowed to (quorate/clock-and-randomness-imports).",
      member:
        "'{{object}}.{{name}}' reads the clock, starts a timer or draws randomness: use the Env (src/core/env.ts), the only module allowed to (quorate/clock-and-randomness-imports).",
    },
  },
  create(context) {
    // Local names bound to a whole module (`import * as c from 'node:crypto'`, a default import)
    // whose members are checked; the global `crypto` (Web Crypto) counts as node:crypto.
    const moduleBindings = new Map([['crypto', 'crypto']]);
    const isShadowed = (node, name) => {
      let scope = context.sourceCode.getScope(node);
      for (; scope !== null; scope = scope.upper) {
        const variable = scope.set.get(name);
        if (variable !== undefined && variable.defs.length > 0) {
          return !variable.defs.some((def) => def.type === 'ImportBinding');
        }
      }
      return false;
    };
    return {
      ImportDeclaration(node) {
        const key = moduleKey(String(node.source.value));
        const banned = envOnlyExports[key];
        if (banned === undefined) return;
        for (const spec of node.specifiers) {
          if (spec.type === 'ImportSpecifier') {
            const name =
              spec.imported.type === 'Identifier' ? spec.imported.name : spec.imported.value;
            if (banned.includes(name)) {
              context.report({
                node: spec,
                messageId: 'named',
                data: { name, source: node.source.value },
              });
            }
          } else {
            moduleBindings.set(spec.local.name, key);
          }
        }
      },
      MemberExpression(node) {
        if (node.object.type !== 'Identifier' || node.computed) return;
        const key = moduleBindings.get(node.object.name);
        if (key === undefined) return;
        const name = node.property.name;
        if (!envOnlyExports[key].includes(name)) return;
        // A local variable or parameter called `crypto` is not the module.
        if (node.object.name === 'crypto' && isShadowed(node, 'crypto')) return;
        context.report({ node, messageId: 'member', data: { object: node.object.name, name } });
      },
    };
  },
};

/**
 * Syntax that reads the clock, starts a timer or draws randomness (no-restricted-syntax). Only
 * src/core/env.ts may use it; everything else gets these through the injected Env, so the
 * simulator can run on a virtual clock and a seed replays a run. `new Date(ms)` is allowed: it
 * only formats an instant the caller already has; `new Date()` and `Date(...)` (which ignores
 * its arguments and returns the current time as a string) read the clock and are not.
 */
export const clockAndRandomnessSyntax = [
  {
    selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
    message: 'Use env.nowMs() (src/core/env.ts).',
  },
  {
    selector: "NewExpression[callee.name='Date'][arguments.length=0]",
    message: 'new Date() reads the clock: use new Date(env.nowMs()) (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.name='Date']",
    message: 'Date() reads the clock: use new Date(env.nowMs()).toString() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
    message: 'Use env.randomBytes() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.object.name='performance'][callee.property.name='now']",
    message: 'Use env.monoMs() (src/core/env.ts).',
  },
  {
    selector: "MemberExpression[object.name='process'][property.name='hrtime']",
    message: 'process.hrtime reads the clock: use env.monoMs() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.name='setTimeout']",
    message: 'Use env.setTimer() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.name='setInterval']",
    message: 'Use env.setTimer() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.name='setImmediate']",
    message: 'setImmediate schedules on the real event loop: use the Env (src/core/env.ts).',
  },
];

/** The plugin object ESLint loads. */
export const quoratePlugin = {
  meta: { name: 'quorate' },
  rules: { layering, 'clock-and-randomness-imports': clockAndRandomnessImports },
};

/** Rules for every file in src/: the import direction and the length of functions. */
export const functionLinesMax = 70;
export const srcRules = {
  'quorate/layering': 'error',
  // A function fits on one screen: 70 lines from its first line to its last, blank and comment
  // lines counted, immediately invoked functions included.
  'max-lines-per-function': [
    'error',
    { max: functionLinesMax, skipBlankLines: false, skipComments: false, IIFEs: true },
  ],
};

/** Rules for src/** except src/core/env.ts, the one module that may touch the clock. */
export const clockRules = {
  'quorate/clock-and-randomness-imports': 'error',
  'no-restricted-syntax': ['error', ...clockAndRandomnessSyntax],
};
