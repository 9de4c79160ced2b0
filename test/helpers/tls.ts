// security room test helper: a throwaway PKI made with the openssl CLI — a CA, broker and client
// certificates signed by it, each as separate PEM files and as a Kafka PEM keystore (private key
// followed by the certificate chain, ssl.keystore.type=PEM).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedCert {
  /** PKCS#8 private key (PEM). */
  keyFile: string;
  certFile: string;
  /** Key then certificate then CA certificate: a Kafka PEM keystore. */
  keystoreFile: string;
  key: string;
  cert: string;
  keystore: string;
  /** The subject as Kafka writes it (RFC 2253, most specific first). */
  subject: string;
}

export interface TestPki {
  dir: string;
  caCertFile: string;
  caCert: string;
  /** Issues a certificate signed by this CA; `subject` is in openssl's /O=../CN=.. form. */
  issue(name: string, subject: string, opts?: { serverNames?: string[]; days?: number }): IssuedCert;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** True when the openssl CLI runs. */
export function opensslAvailable(): boolean {
  try {
    openssl(['version'], tmpdir());
    return true;
  } catch {
    return false;
  }
}

/** A new CA in a fresh temp dir (EC P-256 keys: quick to make, every client supports them). */
export function createTestPki(prefix = 'spool-tls-'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const caKey = join(dir, 'ca.key');
  const caCertFile = join(dir, 'ca.pem');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', caKey], dir);
  openssl(['req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '2', '-subj', '/O=Spool Test/CN=Spool Test CA', '-out', caCertFile], dir);
  const caCert = readFileSync(caCertFile, 'utf8');
  let serial = 1;
  return {
    dir,
    caCertFile,
    caCert,
    issue(name, subject, opts = {}) {
      const keyFile = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const certFile = join(dir, `${name}.pem`);
      const ext = join(dir, `${name}.ext`);
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile], dir);
      openssl(['req', '-new', '-key', keyFile, '-subj', subject, '-out', csr], dir);
      const san = (opts.serverNames ?? []).map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`));
      writeFileSync(
        ext,
        ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth,clientAuth', ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : [])].join('\n') + '\n',
      );
      openssl(
        ['x509', '-req', '-in', csr, '-CA', caCertFile, '-CAkey', caKey, '-set_serial', String(serial++), '-days', String(opts.days ?? 2), '-sha256', '-extfile', ext, '-out', certFile],
        dir,
      );
      const key = readFileSync(keyFile, 'utf8');
      const cert = readFileSync(certFile, 'utf8');
      const keystore = key + cert + caCert;
      const keystoreFile = join(dir, `${name}.keystore.pem`);
      writeFileSync(keystoreFile, keystore);
      const rfc2253 = openssl(['x509', '-in', certFile, '-noout', '-subject', '-nameopt', 'RFC2253'], dir).trim().replace(/^subject=\s*/, '');
      return { keyFile, certFile, keystoreFile, key, cert, keystore, subject: rfc2253 };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
