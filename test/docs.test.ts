/** The README's configuration and error tables must name every setting and every catalogue code. */
import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import { settings, settingsTableRows } from '../config.ts'
import { catalogue } from '../errors.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

describe('README tables', () => {
  it('has the configuration table config.ts renders, row for row (npx tsx scripts/readme-tables.ts config)', () => {
    const head = '| flag | env | default | meaning |\n|---|---|---|---|\n'
    const start = readme.indexOf(head)
    expect(start, 'README has a configuration table').toBeGreaterThan(-1)
    const body = readme.slice(start + head.length)
    const rows = body.slice(0, body.indexOf('\n\n')).split('\n')
    expect(rows).toEqual(settingsTableRows())
  })

  it.each(settings.map((s) => [s.flag ?? s.key, s.env ?? '']))('documents %s / %s', (flag, env) => {
    expect(readme).toContain(`\`${flag}\``)
    if (env) expect(readme).toContain(`\`${env}\``)
  })

  it.each(Object.values(catalogue).map((e) => [e.code]))('documents error code %s', (code) => {
    expect(readme).toContain(`\`${code}\``)
  })
})
