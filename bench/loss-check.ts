/**
 * `npm run loss-check`: 200 users across 2 brokers, 20,000 qos 1 pushes through 2 routes while
 * clients disconnect at random, one broker is SIGKILLed and restarted and one route restarts
 * (bench/lib/loss.ts). Prints sent / delivered / duplicates-suppressed / lost / out-of-order and
 * exits 1 unless lost, out-of-order and duplicates seen by the apps are all 0.
 * Sizes: LOSS_USERS, LOSS_PUSHES, LOSS_RATE (pushes/s, 0 = unpaced), LOSS_CHURN (disconnects/s);
 * LOSS_CHAOS=0 leaves the broker and route alone (churn only).
 */
import { formatLossReport, runLossCheck } from './lib/loss.ts'

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback)

const t0 = Date.now()
runLossCheck({
  users: num('LOSS_USERS', 200),
  pushes: num('LOSS_PUSHES', 20_000),
  ratePerSecond: num('LOSS_RATE', 0),
  churnPerSecond: num('LOSS_CHURN', 10),
  chaos: process.env.LOSS_CHAOS !== '0',
  log: (line) => console.log(`  ${line}`),
}).then((r) => {
  console.log(`\n== loss check (${((Date.now() - t0) / 1000).toFixed(0)} s) ==`)
  for (const line of formatLossReport(r)) console.log(line)
  const ok = r.lost === 0 && r.outOfOrder === 0 && r.duplicatesSeen === 0 && r.delivered === r.sent
  console.log(ok ? 'PASS: every message reached its app exactly once, in order' : 'FAIL')
  process.exit(ok ? 0 : 1)
}, (err: Error) => {
  console.error(err.stack ?? err)
  process.exit(1)
})
