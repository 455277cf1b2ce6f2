/**
 * Helpers shared by the CLI's commands: a flag or its environment variable, required values,
 * bounded numbers and files, the log level, waiting for SIGINT/SIGTERM, and the adapter through
 * which a wrapping entry runs a plain command. Kept free of heavy imports so that
 * `quorate --help` loads nothing but the dispatcher.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { secretWeakness } from '../core/secret-strength.ts';
import type { Link } from '../transport/link.ts';

/** Log levels the CLI accepts in QUORATE_LOG_LEVEL. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** A string flag, or else its environment variable; empty counts as absent. */
export function opt(
  values: Record<string, unknown>,
  name: string,
  envName: string,
): string | undefined {
  const v = values[name];
  if (typeof v === 'string' && v !== '') return v;
  const e = process.env[envName];
  return e === undefined || e === '' ? undefined : e;
}

/** `value`, or `QUORATE_E_CONFIG` naming what is missing. */
export function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new QuorateError('QUORATE_E_CONFIG', `missing ${what}`);
  return value;
}

/** QUORATE_LOG_LEVEL, `info` when absent or unknown. */
export function logLevel(): LogLevel {
  const l = process.env['QUORATE_LOG_LEVEL'] ?? 'info';
  return (['debug', 'info', 'warn', 'error', 'silent'].includes(l) ? l : 'info') as LogLevel;
}

/** Resolves with the first SIGINT or SIGTERM. */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

/** A numeric flag (or its environment variable) within [min, max], else `QUORATE_E_CONFIG`. */
export function numberOption(
  values: Record<string, unknown>,
  name: string,
  envName: string,
  min: number,
  max: number,
): number | undefined {
  const raw = opt(values, name, envName);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new QuorateError('QUORATE_E_CONFIG', `--${name} must be a number in [${min}, ${max}]`, {
      value: raw,
    });
  }
  return n;
}

/** Reads a config file of at most `maxBytes`; any failure is `QUORATE_E_CONFIG` naming it. */
export async function readBoundedFile(
  path: string,
  maxBytes: number,
  what: string,
): Promise<string> {
  try {
    const info = await stat(path);
    if (info.size > maxBytes) {
      throw new QuorateError('QUORATE_E_CONFIG', `${what} file exceeds ${maxBytes} bytes`, {
        path,
      });
    }
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof QuorateError) throw error;
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `cannot read ${what} file ${path}: ${String(error)}`,
      {
        path,
      },
    );
  }
}

/**
 * Why `secret` is too weak to be the shared party secret, or undefined: a captured hello
 * carries HMAC(secret, …), so the secret must resist an offline guess (issue 12 finding 6).
 */
export function partySecretProblem(secret: string): string | undefined {
  return secretWeakness(secret, {
    lengthMin: limits.partySecretLengthMin,
    distinctCharsMin: limits.partySecretDistinctCharsMin,
  });
}

/**
 * `--party-secret` (or QUORATE_PARTY_SECRET), refused with `QUORATE_E_CONFIG` when weak; the
 * message never repeats the secret. Generate one with `openssl rand -hex 24`.
 */
export function partySecretOption(values: Record<string, unknown>): string | undefined {
  const secret = opt(values, 'party-secret', 'QUORATE_PARTY_SECRET');
  if (secret === undefined) return undefined;
  const problem = partySecretProblem(secret);
  if (problem !== undefined) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `--party-secret (QUORATE_PARTY_SECRET) ${problem}; generate one with: openssl rand -hex 24`,
    );
  }
  return secret;
}

/** The PEM file a flag (or its environment variable) names, bounded, or undefined. */
export async function pemOption(
  values: Record<string, unknown>,
  name: string,
  envName: string,
): Promise<string | undefined> {
  const path = opt(values, name, envName);
  if (path === undefined) return undefined;
  return readBoundedFile(path, limits.tlsFileBytesMax, `--${name}`);
}

/**
 * What an entry that runs a plain `coordinator` or `party` command inside a harness changes
 * about the process (`quorate chaos process` injects its faults this way): the Env to use
 * instead of the one the command built, and a wrapper for every coordinator↔party link. The
 * `quorate coordinator` and `quorate party` commands themselves pass none.
 */
export interface ProcessAdapter {
  env: Env;
  wrapLink?: (link: Link) => Link;
}

/** Builds a {@link ProcessAdapter} from the Env the command built (with its log bindings). */
export type AdaptProcess = (env: Env) => ProcessAdapter;

const hex64 = /^[0-9a-fA-F]{64}$/;

/** A 64-hex Ed25519 public key flag (or its variable), lower-cased, or `QUORATE_E_CONFIG`. */
export function keyOption(
  values: Record<string, unknown>,
  name: string,
  envName: string,
): string | undefined {
  const key = opt(values, name, envName);
  if (key === undefined) return undefined;
  if (!hex64.test(key)) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `--${name} must be 64 hex characters (an Ed25519 public key)`,
    );
  }
  return key.toLowerCase();
}
