/**
 * The admin console (/admin) in a real browser: Debian's chromium driven by playwright-core, against
 * a real route + broker with an admin API key, and real CIM clients. The operator signs in with the
 * key, sees the broker and the online user, pushes to that user from the form (the answer shows
 * `delivered`, the client gets it) and sees a second client's login in the live feed.
 * UPDATE_SCREENSHOTS=1 copies the screenshot to docs/images/admin-console.png (README "Operations").
 */
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chromium, type Browser } from 'playwright-core'
import { CimClient, type CimMessage } from '../client/index.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { eventually } from './support/wait.ts'

const CHROMIUM = '/usr/bin/chromium'
const ADMIN_KEY = 'console-admin-key-0123456789abcdef'

const opened: Array<{ close(): unknown }> = []
let node: AllInOne
let browser: Browser

beforeAll(async () => {
  node = await startAllInOne({ apiKeys: ADMIN_KEY })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
}, 20_000)

afterAll(async () => {
  await browser?.close()
  for (const c of opened.splice(0).reverse()) await c.close()
  await node?.close()
})

function client(userName: string): { c: CimClient; inbox: CimMessage[] } {
  const inbox: CimMessage[] = []
  const c = new CimClient({ routeUrl: node.routeUrl, userName, heartbeatMs: 1_000, reconnect: false, onMessage: (m) => inbox.push(m) })
  opened.push(c)
  return { c, inbox }
}

describe('admin console', () => {
  it('serves the page without a key and its API only with one', async () => {
    expect(existsSync(CHROMIUM)).toBe(true)
    expect((await fetch(`${node.routeUrl}/admin/`)).status).toBe(200)
    expect((await fetch(`${node.routeUrl}/admin/vendor/uplot/uPlot.iife.min.js`)).status).toBe(200)
    const anonymous = await fetch(`${node.routeUrl}/admin/api/overview`)
    expect(anonymous.status).toBe(401)
    expect((await anonymous.json()).code).toBe('CIM_UNAUTHORIZED')
    expect((await fetch(`${node.routeUrl}/admin/api/events`)).status).toBe(401)
    const keyed = await fetch(`${node.routeUrl}/admin/api/overview`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
    expect(keyed.status).toBe(200)
    // Hidden from the OpenAPI document: /v1 is the API to build on.
    const doc = await (await fetch(`${node.routeUrl}/openapi.json`)).json() as { paths: Record<string, unknown> }
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/admin'))).toEqual([])
  })

  it('signs in, shows the broker and the online user, pushes to them and shows a login in the live feed', async () => {
    const alice = client('console-alice')
    await alice.c.connect()
    const aliceId = alice.c.userId!

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
    // A step that fails says which, well within the test's own timeout.
    page.setDefaultTimeout(8_000)
    const pageErrors: string[] = []
    page.on('pageerror', (err) => pageErrors.push(err.message))
    await page.goto(`${node.routeUrl}/admin`)
    await page.locator('#login').waitFor({ state: 'visible' })
    await page.fill('#key', ADMIN_KEY)
    await page.click('#login button[type=submit]')

    const brokerRow = page.locator(`#brokers tr[data-broker="${node.broker.id}"]`)
    await brokerRow.waitFor()
    expect(await brokerRow.textContent()).toContain('ok')
    const aliceRow = page.locator(`#users tr[data-user="${aliceId}"]`)
    await aliceRow.waitFor()
    expect(await aliceRow.textContent()).toContain('console-alice')

    // The user's presence and inbox depth, and the push form filled in for them.
    await aliceRow.click()
    await page.locator('#user-detail [data-inbox]').waitFor()
    expect(await page.textContent('#user-detail')).toContain(`online on ${node.broker.id}`)
    expect(await page.textContent('#user-detail')).toContain('inbox: 0 message(s)')

    await page.fill('#push input[name=message]', 'hello from the console')
    await page.click('#push button[type=submit]')
    await page.locator('#push-result tbody tr').waitFor()
    expect(await page.textContent('#push-result tbody')).toContain(String(aliceId))
    expect(await page.textContent('#push-result tbody')).toContain('delivered')
    await eventually(() => alice.inbox.some((m) => m.text === 'hello from the console'), 3000, 'the pushed message')

    // The feed is live once the page says so; a second client's login then shows up in it.
    await page.locator('#feed-state', { hasText: 'live' }).waitFor()
    const bob = client('console-bob')
    await bob.c.connect()
    const online = page.locator('#feed li[data-type="user.online"]', { hasText: `user ${bob.c.userId}` })
    await online.waitFor({ timeout: 5000 })

    // Search by name narrows the online list to bob.
    await page.fill('#users-search input[name=q]', 'console-b')
    await page.click('#users-search button')
    // The list showed alice alone before bob's login reached it: wait for the answer, not a row count.
    await eventually(async () => (await page.locator('#users tbody tr').count()) === 1
      && ((await page.textContent('#users tbody')) ?? '').includes('console-bob'), 3000, 'the search result')
    expect(await page.textContent('#users tbody')).not.toContain('console-alice')
    await page.fill('#users-search input[name=q]', '')
    await page.click('#users-search button')
    await eventually(async () => (await page.locator('#users tbody tr').count()) === 2, 3000, 'the full list')

    expect(pageErrors).toEqual([])
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      // For the picture only: some traffic, then two chart refreshes so the chart shows it.
      for (let i = 0; i < 20; i++) await fetch(`${node.routeUrl}/v1/push/users/${aliceId}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ message: `tick ${i}` }) })
      await page.waitForTimeout(4_500)
    }
    const shot = join(mkdtempSync(join(tmpdir(), 'cim-admin-')), 'admin-console.png')
    await page.screenshot({ path: shot, fullPage: true })
    if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(shot, new URL('../docs/images/admin-console.png', import.meta.url))
    await page.close()
  }, 30_000)
})
