/**
 * TLS material for the coordinator's listener, the parties' pinned CA and the etcd client:
 * checked once at start so that a wrong file stops the process with `QUORATE_E_CONFIG` naming
 * it, instead of failing on the first connection. Verification is never turned off anywhere:
 * a CA given here replaces the system CAs for that one connection, it does not relax them.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { QuorateError } from '../core/errors.ts';

/** A certificate chain and its private key (PEM), as a TLS server or client presents them. */
export interface TlsKeyPair {
  cert: string;
  key: string;
}

/** Parses every certificate of a PEM bundle; `QUORATE_E_CONFIG` naming `what` if one is bad. */
export function checkCertificatePem(pem: string, what: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new QuorateError('QUORATE_E_CONFIG', `${what} holds no PEM certificate`);
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new QuorateError(
        'QUORATE_E_CONFIG',
        `${what} is not a valid certificate: ${String(error)}`,
      );
    }
  }
}

/**
 * Checks that `pair.cert` parses, `pair.key` is a private key, and that they belong together
 * (OpenSSL's "key values mismatch" otherwise); `QUORATE_E_CONFIG` naming `what`.
 */
export function checkKeyPair(pair: TlsKeyPair, what: string): void {
  checkCertificatePem(pair.cert, `${what} certificate`);
  try {
    createPrivateKey(pair.key);
  } catch (error) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `${what} key is not a private key: ${String(error)}`,
    );
  }
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (error) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `${what} key does not match its certificate: ${String(error)}`,
    );
  }
}
