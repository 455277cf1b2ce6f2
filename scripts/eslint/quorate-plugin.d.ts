/** Types of scripts/eslint/quorate-plugin.js (Quorate's own lint rules), for the tests. */
import type { ESLint, Linter } from 'eslint';

/** The directory whose top-level folders the layering rule orders. */
export const srcRoot: string;
/** The level of every top-level folder of src/ (documented in src/README.md). */
export const folderLevels: Readonly<Record<string, number>>;
/** The clock/randomness selectors of no-restricted-syntax. */
export const clockAndRandomnessSyntax: readonly { selector: string; message: string }[];
/** The plugin object ESLint loads as `quorate`. */
export const quoratePlugin: ESLint.Plugin;
/** The longest function src/ allows, in lines. */
export const functionLinesMax: number;
/** Rules for every file in src/. */
export const srcRules: Linter.RulesRecord;
/** Rules for src/** except src/core/env.ts. */
export const clockRules: Linter.RulesRecord;
