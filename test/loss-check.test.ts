/**
 * The loss check, shortened (bench/loss-check.ts runs the full one): 20 users on 2 broker
 * processes, 1,000 qos 1 pushes through 2 route processes (Redis + ZooKeeper), clients
 * disconnecting at random, one broker SIGKILLed and restarted, one route SIGKILLed and restarted.
 * Every app must see every message sent to its user exactly once, in order.
 */
import { describe, expect, it } from 'vitest'
import { formatLossReport, runLossCheck } from '../bench/lib/loss.ts'

describe('loss check (short)', () => {
  it('nothing lost, nothing twice, in order — across disconnects, a broker crash and a route restart', async () => {
    const report = await runLossCheck({
      users: 20, pushes: 1_000, clientProcesses: 2, lanes: 20, ratePerSecond: 80, churnPerSecond: 4, settleMs: 15_000,
    })
    const summary = formatLossReport(report).join('\n')
    expect(report.chaos.filter((c) => c.endsWith('done')), summary).toHaveLength(3)
    expect(report.sent, summary).toBe(1_000)
    expect({ lost: report.lost, outOfOrder: report.outOfOrder, duplicatesSeen: report.duplicatesSeen, delivered: report.delivered }, summary)
      .toEqual({ lost: 0, outOfOrder: 0, duplicatesSeen: 0, delivered: report.sent })
    expect(report.disconnects, summary).toBeGreaterThan(0)
  }, 150_000)
})
