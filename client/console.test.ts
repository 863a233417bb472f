import { describe, expect, it } from 'vitest'
import { formatIncoming, parseCommand, usersWithPrefix } from './console.ts'

describe('parseCommand (upstream cim-client commands)', () => {
  it('recognises the inner commands', () => {
    expect(parseCommand(':all')).toEqual({ kind: 'help' })
    expect(parseCommand(':olu')).toEqual({ kind: 'online' })
    expect(parseCommand(':q!')).toEqual({ kind: 'quit' })
    expect(parseCommand('  :info  ')).toEqual({ kind: 'info' })
    expect(parseCommand(':pu al')).toEqual({ kind: 'prefix', prefix: 'al' })
  })

  it('answers an unknown command with the list, as upstream does', () => {
    expect(parseCommand(':emoji')).toEqual({ kind: 'help' })
  })

  it('reports :pu without a prefix', () => {
    expect(parseCommand(':pu')).toMatchObject({ kind: 'invalid' })
  })

  it('parses <userId>;;<text> as a private message, keeping later ;; in the text', () => {
    expect(parseCommand('1700000000001;;hello')).toEqual({ kind: 'p2p', receiveUserId: 1700000000001, text: 'hello' })
    expect(parseCommand('42;;a;;b')).toEqual({ kind: 'p2p', receiveUserId: 42, text: 'a;;b' })
  })

  it('rejects a private message with a bad receiver or no text', () => {
    expect(parseCommand('bob;;hi')).toMatchObject({ kind: 'invalid' })
    expect(parseCommand('99999999999999999999;;hi')).toMatchObject({ kind: 'invalid' })
    expect(parseCommand('42;;   ')).toMatchObject({ kind: 'invalid', reason: 'empty message' })
  })

  it('sends any other line to the group, and ignores blank lines', () => {
    expect(parseCommand('hello everyone')).toEqual({ kind: 'group', text: 'hello everyone' })
    expect(parseCommand('   ')).toEqual({ kind: 'empty' })
  })
})

describe('formatIncoming', () => {
  it('prints [HH:mm:ss] name: text', () => {
    const ts = new Date(2024, 0, 2, 9, 5, 7).getTime()
    expect(formatIncoming({ text: 'hi', sendUserName: 'bob', sendUserId: 1, ts, offline: false })).toBe('[09:05:07] bob: hi')
    expect(formatIncoming({ text: 'old', sendUserName: 'bob', sendUserId: 1, ts, offline: true })).toBe('[09:05:07] bob: old (offline)')
  })
})

describe('usersWithPrefix', () => {
  it('keeps names starting with the prefix', () => {
    const users = [{ userId: 1, userName: 'alice' }, { userId: 2, userName: 'bob' }, { userId: 3, userName: 'albert' }]
    expect(usersWithPrefix(users, 'al').map((u) => u.userName)).toEqual(['albert', 'alice'])
  })
})
