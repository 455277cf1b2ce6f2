/**
 * The data directory of a party or coordinator holds the sealed keystore, the journal (one-time
 * secrets, sealed shares) and the store: only the process's own user may read it. `mkdir` with
 * mode 0700 protects a new directory only, and SQLite creates its files with the umask's mode,
 * so a directory made by hand or by an older version could leave `journal.sqlite` world-readable
 * (issue 12 finding 8). At every start the directory is therefore checked and tightened: it must
 * be a directory owned by this user (else `QUORATE_E_CONFIG`: we do not take over another
 * user's keys), and it becomes 0700 and every regular file in it 0600.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { QuorateError } from '../core/errors.ts';

/** Files of a data directory tightened per start (ours: a handful; a stray dump is not read). */
const dataDirEntriesMax = 4_096;

/** Creates `dir` (0700) if needed, refuses one owned by another user, then tightens modes. */
export function secureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `cannot create data directory ${dir}: ${String(error)}`,
      {
        dataDir: dir,
      },
    );
  }
  const info = lstatSync(dir);
  if (!info.isDirectory()) {
    throw new QuorateError('QUORATE_E_CONFIG', `data directory ${dir} is not a directory`, {
      dataDir: dir,
    });
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `data directory ${dir} belongs to uid ${info.uid}, not to this process (uid ${uid})`,
      { dataDir: dir },
    );
  }
  tightenDataDir(dir);
}

/**
 * Sets `dir` to 0700 and its regular files to 0600 (files SQLite created after the directory
 * check are tightened by calling this again once they exist).
 */
export function tightenDataDir(dir: string): void {
  try {
    if ((lstatSync(dir).mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
    const entries = readdirSync(dir, { withFileTypes: true }).slice(0, dataDirEntriesMax);
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = join(dir, entry.name);
      if ((lstatSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    }
  } catch (error) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `cannot restrict data directory ${dir} to its owner: ${String(error)}`,
      { dataDir: dir },
    );
  }
}
