/**
 * Child process of the login benchmark: `concurrency` loops, each logging its users in one after
 * another, the way the SDK does: the route's /login picks the broker, then TCP, the login frame
 * (proto=2, with the user's token when given) and LOGIN_REPLY; then the connection is closed.
 *
 * Parent → child (fork IPC): {cmd:'run', routeUrl (one or several), users, seconds, concurrency} → {ev:'done', ...};
 * {cmd:'stop'} → exit.
 */
import { CimConnection } from '../../client/connection.ts'
import { RouteApi } from '../../client/route.ts'

export interface LoginUser { userId: number; userName: string; token?: string }

/** `routeUrl` may list several routes (a cluster): loop k logs in through route k mod their count. */
export interface RunCommand { cmd: 'run'; routeUrl: string | string[]; users: LoginUser[]; seconds: number; concurrency: number }

export interface LoginReport { ev: 'done'; logins: number; failures: number; firstError?: string; latenciesMs: number[] }

async function loginOnce(route: RouteApi, u: LoginUser): Promise<void> {
  const server = await route.login(u.userId, u.userName)
  const conn = new CimConnection({
    host: server.ip, port: server.cimServerPort, userId: u.userId, userName: u.userName, proto2: true, token: u.token,
    heartbeatMs: 60_000, readTimeoutMs: 180_000, loginTimeoutMs: 5_000,
    onLogin: () => {}, onFrame: () => {}, onClose: () => {},
  })
  try {
    await conn.start()
  } finally {
    conn.close()
  }
}

async function run(c: RunCommand): Promise<LoginReport> {
  const routes = (Array.isArray(c.routeUrl) ? c.routeUrl : [c.routeUrl]).map((routeUrl) => new RouteApi({ routeUrl }))
  const end = Date.now() + c.seconds * 1000
  const report: LoginReport = { ev: 'done', logins: 0, failures: 0, latenciesMs: [] }
  // Loop k owns users k, k + concurrency, ...: a user is never logged in twice at once.
  await Promise.all(Array.from({ length: c.concurrency }, async (_, k) => {
    const mine = c.users.filter((_, i) => i % c.concurrency === k)
    const route = routes[k % routes.length]
    for (let i = 0; Date.now() < end; i++) {
      const t = performance.now()
      try {
        await loginOnce(route, mine[i % mine.length])
        report.logins++
        report.latenciesMs.push(performance.now() - t)
      } catch (err) {
        report.failures++
        report.firstError ??= (err as Error).message
      }
    }
  }))
  return report
}

process.on('message', (m: RunCommand | { cmd: 'stop' }) => {
  if (m.cmd === 'stop') process.exit(0)
  void run(m).then((r) => process.send?.(r))
})
