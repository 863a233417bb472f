/**
 * What a login token check costs: logins/s through the route and the broker (`cim start`, memory
 * adapters, its own process), without tokens and with HS256 tokens (--token-secret; each login
 * carries a token minted beforehand by POST /v1/users/{userId}/token, as a backend would hand it
 * out). A login: POST /login on the route, TCP connect, login frame, LOGIN_REPLY, close
 * (bench/lib/login-client.ts, in its own process). Both nodes run at once and the rounds
 * alternate, so a busy machine depresses both alike. A third side is the cluster (2 routes + 2
 * brokers over real Redis and ZooKeeper, bench/cluster.ts's rig; no tokens, logins through both
 * routes), printed as a ratio to the single node without tokens (no target).
 * `npx tsx bench/login.ts` alone, or `npm run bench -- login`.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startNodeProcess } from './lib/node-process.ts'
import { info, startRig, stopRig, type Rig } from './cluster.ts'
import { fmt, percentile, verdict, type Verdict } from './lib/stats.ts'
import type { LoginReport, LoginUser, RunCommand } from './lib/login-client.ts'
import { createTokenService } from '../security/tokens.ts'
import { MemoryRevocations } from '../adapters/revocations/memory.ts'

/** Logins through the compatible /login, and a user logging in again replaces their connection. */
const LOGIN_FLAGS = ['--compat', '--repeat-login', 'kick-old']
const CLIENT = fileURLToPath(new URL('./lib/login-client.ts', import.meta.url))
const SECRET = 'bench-login-secret-bench-login-secret'
/** A token check is one HMAC and one revocation lookup: logins/s with tokens should stay this close. */
const TARGET_RATIO = 0.8

/** The check alone, in this process: µs per verify (HMAC, claims, memory revocation lookup). */
async function verifyMicros(n: number): Promise<number> {
  const tokens = createTokenService({ tokenSecret: SECRET, tokenPublicKey: '' }, new MemoryRevocations())
  const { token } = await tokens.mint('user', '1747309836375')
  for (let i = 0; i < 1000; i++) await tokens.verify(token, 'user')
  const t = performance.now()
  for (let i = 0; i < n; i++) await tokens.verify(token, 'user')
  return ((performance.now() - t) * 1000) / n
}

async function users(url: string, n: number, withTokens: boolean): Promise<LoginUser[]> {
  const out: LoginUser[] = []
  for (let i = 0; i < n; i++) {
    const post = (path: string, body?: object) => fetch(`${url}${path}`, {
      method: 'POST', ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    }).then((r) => r.json() as Promise<Record<string, unknown>>)
    const u = await post('/v1/users', { userName: `login-${i}` }) as { userId: number; userName: string }
    const token = withTokens ? (await post(`/v1/users/${u.userId}/token`)).token as string : undefined
    out.push({ userId: u.userId, userName: u.userName, token })
  }
  return out
}

function round(client: ChildProcess, cmd: RunCommand): Promise<LoginReport> {
  return new Promise((resolve) => {
    client.once('message', (m) => resolve(m as LoginReport))
    client.send(cmd)
  })
}

export async function login({ quick }: { quick: boolean }): Promise<Verdict[]> {
  const concurrency = 16
  const userCount = 4 * concurrency
  const rounds = quick ? 1 : 3
  const seconds = quick ? 2 : 5
  console.log(`${userCount} users per side, ${concurrency} concurrent login loops (1 client process); ${rounds} alternating round(s) of ${seconds} s after a warm-up; sides: single node without and with tokens, cluster (2 routes + 2 brokers) without`)
  const plain = await startNodeProcess(LOGIN_FLAGS)
  const tokens = await startNodeProcess([...LOGIN_FLAGS, '--token-secret', SECRET])
  // The cluster's repeat-login policy as the single node's, so both sides do the same work per login.
  const rig: Rig = {}
  const cluster = await startRig(rig, { settings: { repeatLogin: 'kick-old' } })
  const routeUrls = cluster.routes.map((r) => r.url)
  const client = fork(CLIENT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  try {
    const sides = [
      { name: 'without tokens', url: plain.url, users: await users(plain.url, userCount, false), logins: 0, s: 0, failures: 0, lat: [] as number[], firstError: '' },
      { name: 'with HS256 tokens', url: tokens.url, users: await users(tokens.url, userCount, true), logins: 0, s: 0, failures: 0, lat: [] as number[], firstError: '' },
      { name: 'cluster (2+2)', url: routeUrls, users: await users(routeUrls[0], userCount, false), logins: 0, s: 0, failures: 0, lat: [] as number[], firstError: '' },
    ]
    for (const side of sides) await round(client, { cmd: 'run', routeUrl: side.url, users: side.users, seconds: 1, concurrency })
    for (let r = 0; r < rounds; r++) {
      for (const side of sides) {
        const rep = await round(client, { cmd: 'run', routeUrl: side.url, users: side.users, seconds, concurrency })
        side.logins += rep.logins
        side.s += seconds
        side.failures += rep.failures
        side.firstError ||= rep.firstError ?? ''
        side.lat.push(...rep.latenciesMs)
      }
    }
    for (const side of sides) {
      console.log(`  ${side.name.padEnd(18)} ${fmt(side.logins / side.s)} logins/s (p50 ${fmt(percentile(side.lat, 50), 1)} ms, p99 ${fmt(percentile(side.lat, 99), 1)} ms, ` +
        `${side.failures} failed${side.firstError ? `: ${side.firstError}` : ''})`)
    }
    console.log(`  one HS256 token check alone: ${fmt(await verifyMicros(quick ? 5_000 : 50_000), 1)} µs (in-process, memory revocations)`)
    const rate = (side: typeof sides[number]) => side.logins / side.s
    const ratio = rate(sides[1]) / rate(sides[0])
    const clusterRatio = rate(sides[2]) / rate(sides[0])
    console.log(`  ratio with / without tokens: ${ratio.toFixed(2)}; cluster / single node: ${clusterRatio.toFixed(2)}`)
    return [
      verdict('login', 'logins/s with tokens / without', ratio, '>=', TARGET_RATIO, ratio.toFixed(2), String(TARGET_RATIO)),
      info('login', 'logins/s ratio cluster/single node', clusterRatio, `${fmt(clusterRatio, 2)} (${fmt(rate(sides[2]))} vs ${fmt(rate(sides[0]))} logins/s)`),
    ]
  } finally {
    if (client.connected) client.send({ cmd: 'stop' })
    setTimeout(() => client.kill('SIGKILL'), 2_000).unref()
    for (const n of [plain, tokens]) {
      n.child.kill('SIGTERM')
      setTimeout(() => n.child.kill('SIGKILL'), 5_000).unref()
    }
    await stopRig(rig)
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  login({ quick: /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '') }).then((vs) => {
    for (const v of vs) console.log(`VERDICT ${v.scenario}: ${v.what} = ${v.shown} (target ≥ ${v.targetShown}) — ${v.met ? 'met' : 'NOT MET'}`)
    process.exit(0)
  }, (err: Error) => { console.error(err.stack ?? err); process.exit(1) })
}
