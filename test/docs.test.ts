/** The README's configuration and error tables must name every setting and every catalogue code. */
import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import { settings } from '../config.ts'
import { catalogue } from '../errors.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

describe('README tables', () => {
  it.each(settings.map((s) => [s.flag, s.env]))('documents %s / %s', (flag, env) => {
    expect(readme).toContain(`\`${flag}\``)
    expect(readme).toContain(`\`${env}\``)
  })

  it.each(Object.values(catalogue).map((e) => [e.code]))('documents error code %s', (code) => {
    expect(readme).toContain(`\`${code}\``)
  })
})
