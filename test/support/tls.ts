/**
 * A throwaway certificate authority for TLS tests, made at run time with the openssl CLI
 * (scripts/setup.sh installs it) in a temp dir: nothing secret is checked in, nothing outlives
 * the test. Keys are P-256 (fast to generate; mosquitto, Node and browsers all take them).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'

export interface IssuedCert {
  /** PEM file paths. */
  cert: string
  key: string
  /** SHA-256 fingerprint as Node's getPeerCertificate().fingerprint256 spells it. */
  fingerprint256: string
}

export interface TestCa {
  dir: string
  /** The CA certificate's PEM file (for --cafile) and its contents (for a client's `ca`). */
  caFile: string
  ca: Buffer
  /** A server certificate for 127.0.0.1 and localhost, signed by this CA. */
  issue(name: string): IssuedCert
  remove(): void
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** A new CA in a new temp dir (named after `label`). */
export function createTestCa(label = 'cim-tls'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`))
  openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${label} test CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  writeFileSync(join(dir, 'server.ext'), [
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
  ].join('\n'))
  const caFile = join(dir, 'ca.pem')
  return {
    dir, caFile,
    ca: readFileSync(caFile),
    issue(name) {
      openssl(dir, ['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost'])
      openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
        '-out', `${name}.pem`, '-days', '2', '-extfile', 'server.ext'])
      const cert = join(dir, `${name}.pem`)
      return { cert, key: join(dir, `${name}.key`), fingerprint256: new X509Certificate(readFileSync(cert)).fingerprint256 }
    },
    remove() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Puts `from`'s certificate and key at `to`'s paths the way rotation tools do: write a temp file,
 * rename it over the old one (a new inode: fs.watch would lose track, a stat poll does not).
 */
export function rotateInto(to: { cert: string; key: string }, from: { cert: string; key: string }): void {
  for (const kind of ['key', 'cert'] as const) {
    const tmp = `${to[kind]}.tmp`
    writeFileSync(tmp, readFileSync(from[kind]))
    renameSync(tmp, to[kind])
  }
}
