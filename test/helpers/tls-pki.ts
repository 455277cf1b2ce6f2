/**
 * A throwaway PKI for the TLS tests, made with the `openssl` CLI exactly as docs/tls.md tells an
 * operator to: a CA, a server certificate for 127.0.0.1 (subjectAltName IP), a client
 * certificate (for etcd's --client-cert-auth), and a second, unrelated CA that must not be
 * trusted. Every file lands in a fresh temp directory the caller removes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of the PEM files of one test PKI. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing we serve: trusting it must fail verification. */
  otherCaCert: string;
}

const opensslTimeoutMs = 30_000;

function openssl(dir: string, args: string[]): void {
  const result = spawnSync('openssl', args, {
    cwd: dir,
    encoding: 'utf8',
    timeout: opensslTimeoutMs,
  });
  if (result.error || result.status !== 0) {
    throw new Error(
      `openssl ${args.join(' ')} failed: ${result.error?.message ?? result.stderr}. ` +
        'The TLS tests need the openssl CLI (apt-get install -y openssl).',
    );
  }
}

/** `openssl req` arguments for a new P-256 key NAME.key (unencrypted) and subject CN=NAME. */
const newKey = (name: string) =>
  `-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ${name}.key -subj /CN=${name}`.split(
    ' ',
  );

/** A self-signed CA (P-256) valid for a day: NAME.crt and NAME.key. */
function makeCa(dir: string, name: string): void {
  openssl(dir, [
    ...`req -x509 -days 1 -out ${name}.crt`.split(' '),
    ...newKey(name),
    ...['-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
}

/** A leaf NAME.crt/NAME.key signed by ca.crt with the given extensions. */
function makeLeaf(dir: string, name: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [...`req -out ${name}.csr`.split(' '), ...newKey(name)]);
  openssl(
    dir,
    `x509 -req -in ${name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out ${name}.crt -extfile ${name}.ext`.split(
      ' ',
    ),
  );
}

/** Makes a fresh PKI in a new temp directory. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  // serverAuth and clientAuth: etcd's own gateway dials its gRPC server with the server cert.
  makeLeaf(dir, 'server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  makeLeaf(dir, 'client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    otherCaCert: join(dir, 'other-ca.crt'),
  };
}
