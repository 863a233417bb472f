import { copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, createServer, type Server, type TLSSocket } from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { createTestCa, rotateInto, type IssuedCert, type TestCa } from '../test/support/tls.ts'
import { eventually } from '../test/support/wait.ts'
import { loadTls, tlsPathsOf, watchTls, type TlsPaths, type TlsWatcher } from './tls.ts'

const logger = pino({ level: 'silent' })
let ca: TestCa
let first: IssuedCert
let second: IssuedCert
beforeAll(() => {
  ca = createTestCa('cim-tls-unit')
  first = ca.issue('first')
  second = ca.issue('second')
})
afterAll(() => ca.remove())

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

let seq = 0
/** The files a node is configured with, starting as a copy of `first`. */
function livePaths(): TlsPaths {
  const n = ++seq
  const paths = { cert: join(ca.dir, `live${n}.pem`), key: join(ca.dir, `live${n}.key`) }
  copyFileSync(first.cert, paths.cert)
  copyFileSync(first.key, paths.key)
  return paths
}

/** An echo TLS server kept current by `watcher`. */
async function echoServer(watcher: TlsWatcher): Promise<number> {
  const server: Server = createServer(watcher.options, (s) => s.pipe(s))
  watcher.add(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(() => new Promise((resolve) => server.close(resolve)))
  return (server.address() as { port: number }).port
}

/** A verified connection (the test CA only); resolves with the socket once the handshake is done. */
function dial(port: number, trusted = ca.ca): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: trusted }, () => resolve(s)).once('error', reject)
    cleanup.push(() => s.destroy())
  })
}

const fingerprintAt = async (port: number) => (await dial(port)).getPeerCertificate().fingerprint256
const echo = (s: TLSSocket, text: string) =>
  new Promise<string>((resolve) => { s.once('data', (d) => resolve(d.toString())); s.write(text) })

describe('TLS certificates', () => {
  it('tlsPathsOf: neither setting means no TLS, one without the other is refused', () => {
    expect(tlsPathsOf({ tlsCert: '', tlsKey: '' })).toBeUndefined()
    expect(tlsPathsOf({ tlsCert: 'c.pem', tlsKey: 'k.pem' })).toEqual({ cert: 'c.pem', key: 'k.pem' })
    expect(() => tlsPathsOf({ tlsCert: 'c.pem', tlsKey: '' })).toThrow(/both --tls-cert and --tls-key/)
  })

  it('loadTls refuses a key that does not match the certificate, and a missing file', () => {
    expect(() => loadTls({ cert: first.cert, key: second.key })).toThrow(/do not load/)
    expect(() => loadTls({ cert: join(ca.dir, 'absent.pem'), key: first.key })).toThrow(/ENOENT/)
  })

  it('a file change reaches new connections; an established one keeps its certificate and stays up', async () => {
    const paths = livePaths()
    const reloads: unknown[] = []
    const watcher = watchTls(paths, { logger, pollMs: 20, debounceMs: 20, onReload: (o) => reloads.push(o) })
    cleanup.push(() => watcher.close())
    const port = await echoServer(watcher)
    const old = await dial(port)
    expect(old.getPeerCertificate().fingerprint256).toBe(first.fingerprint256)

    rotateInto(paths, second)
    await eventually(async () => (await fingerprintAt(port)) === second.fingerprint256, 5000, 'the rotated certificate')
    expect(reloads.length).toBeGreaterThanOrEqual(1)
    expect(await echo(old, 'still here')).toBe('still here')
    expect(old.getPeerCertificate().fingerprint256).toBe(first.fingerprint256)
  })

  it('SIGHUP reloads at once (no file polling needed)', async () => {
    const paths = livePaths()
    const watcher = watchTls(paths, { logger, pollMs: 3_600_000 })
    cleanup.push(() => watcher.close())
    const port = await echoServer(watcher)
    rotateInto(paths, second)
    expect(await fingerprintAt(port)).toBe(first.fingerprint256)
    process.emit('SIGHUP', 'SIGHUP')
    expect(await fingerprintAt(port)).toBe(second.fingerprint256)
  })

  it('a bad new certificate is logged and the old one kept; a later good one is taken', async () => {
    const paths = livePaths()
    const errors: string[] = []
    const spy = { info: () => {}, error: (_o: object, msg: string) => { errors.push(msg) } } as unknown as pino.Logger
    const watcher = watchTls(paths, { logger: spy, pollMs: 3_600_000 })
    cleanup.push(() => watcher.close())
    const port = await echoServer(watcher)

    writeFileSync(paths.cert, 'not a certificate')
    expect(watcher.reload()).toBe(false)
    copyFileSync(second.cert, paths.cert) // the new certificate, the old key: a rotation caught half-way
    expect(watcher.reload()).toBe(false)
    expect(errors).toHaveLength(2)
    expect(await fingerprintAt(port)).toBe(first.fingerprint256)

    copyFileSync(second.key, paths.key)
    expect(watcher.reload()).toBe(true)
    expect(await fingerprintAt(port)).toBe(second.fingerprint256)
  })

  it('a client that does not trust the CA is refused', async () => {
    const other = createTestCa('cim-tls-other')
    cleanup.push(() => other.remove())
    const watcher = watchTls(livePaths(), { logger })
    cleanup.push(() => watcher.close())
    const port = await echoServer(watcher)
    await expect(dial(port, other.ca)).rejects.toThrow(/unable to verify|self.signed|certificate/i)
  })

  it('close() stops listening for SIGHUP', () => {
    const before = process.listenerCount('SIGHUP')
    const watcher = watchTls(livePaths(), { logger })
    expect(process.listenerCount('SIGHUP')).toBe(before + 1)
    watcher.close()
    expect(process.listenerCount('SIGHUP')).toBe(before)
    expect(watcher.reload()).toBe(false)
  })
})
