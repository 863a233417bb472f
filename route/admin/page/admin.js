// The admin console (route/admin/index.ts). Plain browser JavaScript, no build step: the key is
// kept in sessionStorage (this tab only) and sent as `Authorization: Bearer` to /admin/api/*.
'use strict'
const KEY = 'cim.admin.key'
const $ = (sel) => document.querySelector(sel)
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (k === 'class') e.className = v; else e.setAttribute(k, v)
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return e
}
const badge = (text, cls = text) => el('span', { class: `badge ${cls}` }, text)
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '')

class Unauthorized extends Error {}

function authHeaders() {
  const key = sessionStorage.getItem(KEY)
  return key ? { authorization: `Bearer ${key}` } : {}
}

async function api(path, init = {}) {
  const res = await fetch(`/admin/api${path}`, { ...init, headers: { ...authHeaders(), ...init.headers } })
  const body = await res.json().catch(() => ({}))
  if (res.status === 401) throw new Unauthorized(body.message || 'unauthorized')
  if (!res.ok) throw Object.assign(new Error(`${body.code || res.status}: ${body.message || res.statusText}`), { status: res.status, body })
  return body
}

// ---- sign in ----
function showLogin(message = '') {
  stop()
  $('#console').hidden = true
  $('#logout').hidden = true
  $('#login').hidden = false
  $('#login-error').textContent = message
}
$('#login').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  sessionStorage.setItem(KEY, $('#key').value.trim())
  await boot()
})
$('#logout').addEventListener('click', () => { sessionStorage.removeItem(KEY); showLogin() })

let timers = []
let feedAbort
function stop() {
  timers.forEach(clearInterval)
  timers = []
  feedAbort?.abort()
}

async function boot() {
  try {
    await refreshOverview()
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin(sessionStorage.getItem(KEY) ? 'That key was refused.' : '')
    if (err.status === 403) return showLogin('That key lacks the admin scope.')
    return showLogin(err.message)
  }
  $('#login').hidden = true
  $('#console').hidden = false
  $('#logout').hidden = !sessionStorage.getItem(KEY)
  stop()
  timers.push(setInterval(() => refreshOverview().catch(onError), 2000))
  timers.push(setInterval(() => refreshChart().catch(onError), 2000))
  loadList('users', false).catch(onError)
  loadList('devices', false).catch(onError)
  refreshChart().catch(onError)
  openFeed()
}
function onError(err) { if (err instanceof Unauthorized) showLogin('The key was refused.') }

// ---- brokers ----
async function refreshOverview() {
  const { brokers, online } = await api('/overview')
  $('#totals').textContent = `${brokers.length} broker(s) · ${online.users} user(s) · ${online.devices} device(s) online`
  $('#brokers tbody').replaceChildren(...brokers.map((b) => el('tr', { 'data-broker': b.id },
    el('td', {}, b.id), el('td', {}, `${b.host}:${b.cimPort} (mqtt ${b.mqttPort})`), el('td', {}, b.connections),
    el('td', {}, b.draining ? badge('draining') : badge('ok')), el('td', {}, time(b.startedAt)))))
}

// ---- users and devices: search and paging ----
const lists = { users: { next: undefined }, devices: { next: undefined } }
async function loadList(kind, more) {
  const q = $(`#${kind}-search`).q.value
  const params = new URLSearchParams({ limit: '20' })
  if (q) params.set('q', q)
  if (more && lists[kind].next) params.set('cursor', lists[kind].next)
  const page = await api(`/${kind}?${params}`)
  lists[kind].next = page.next
  $(`#${kind}-more`).hidden = !page.next
  const rows = page.items.map((item) => kind === 'users'
    ? el('tr', { class: 'clickable', 'data-user': item.userId }, el('td', {}, item.userId), el('td', {}, item.userName), el('td', {}, item.brokerId), el('td', {}, time(item.since)))
    : el('tr', { 'data-device': item.deviceId }, el('td', {}, item.deviceId), el('td', {}, item.brokerId), el('td', {}, time(item.since))))
  if (more) $(`#${kind} tbody`).append(...rows); else $(`#${kind} tbody`).replaceChildren(...rows)
}
for (const kind of ['users', 'devices']) {
  $(`#${kind}-search`).addEventListener('submit', (ev) => { ev.preventDefault(); loadList(kind, false).catch(onError) })
  $(`#${kind}-more`).addEventListener('click', () => loadList(kind, true).catch(onError))
}
$('#users tbody').addEventListener('click', async (ev) => {
  const row = ev.target.closest('tr[data-user]')
  if (!row) return
  const u = await api(`/users/${row.dataset.user}`).catch((err) => ({ error: err.message }))
  const box = $('#user-detail')
  box.hidden = false
  if (u.error) return box.replaceChildren(u.error)
  box.replaceChildren(el('b', {}, `${u.userName} (${u.userId})`), ' ',
    u.presence.online ? badge(`online on ${u.presence.brokerId} since ${time(u.presence.since)}`, 'ok') : badge('offline'), ' ',
    el('span', { 'data-inbox': '' }, `inbox: ${u.inbox.messages} message(s), ${u.inbox.bytes} bytes waiting for an ack`))
  const form = $('#push')
  form.kind.value = 'user'
  form.to.value = u.userId
})

// ---- push ----
$('#push').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const f = ev.target
  $('#push-error').textContent = ''
  const body = { target: f.kind.value, id: f.to.value, message: f.message.value, ...(f.qos1.checked && f.kind.value !== 'all' ? { qos: 1 } : {}) }
  try {
    const answer = await api('/push', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const rows = answer.results
      ? answer.results.map((r) => el('tr', {}, el('td', {}, r.userId ?? r.deviceId), el('td', {}, badge(r.status)), el('td', {}, r.code ?? '')))
      : [el('tr', {}, el('td', {}, 'everyone'), el('td', {}, badge('sent', 'delivered')), el('td', {}, `${answer.users} user(s), ${answer.devices} device(s)`))]
    $('#push-result tbody').replaceChildren(...rows)
    $('#push-result').hidden = false
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin('The key was refused.')
    $('#push-result').hidden = true
    $('#push-error').textContent = err.message
  }
})

// ---- throughput chart (uPlot, served from node_modules) ----
let chart
async function refreshChart() {
  const { samples } = await api('/stats')
  const data = [samples.map((s) => s.ts / 1000), samples.map((s) => s.pushesPerSecond), samples.map((s) => s.deliveriesPerSecond)]
  if (!chart) {
    chart = new uPlot({
      width: Math.max(300, $('#chart').clientWidth), height: 200,
      series: [{}, { label: 'pushes/s', stroke: '#2b6cb0', width: 2 }, { label: 'deliveries/s', stroke: '#38a169', width: 2 }],
      axes: [{}, { size: 60 }],
    }, data, $('#chart'))
  } else chart.setData(data)
}

// ---- live feed: fetch() with a stream reader, since EventSource cannot send the key ----
const FEED_MAX = 200
function describe(e) {
  const who = e.userId !== undefined ? `user ${e.userId}` : e.clientId !== undefined ? `device ${e.clientId}` : e.from !== undefined ? `user ${e.from}` : ''
  const extra = e.reason ? ` (${e.reason})` : e.topic ? ` ${e.topic}` : e.seq !== undefined ? ` seq ${e.seq}` : ''
  return `${who}${extra} on ${e.node}`
}
function addFeedItem(item) {
  const li = item.type === 'dropped'
    ? el('li', { class: 'dropped' }, `${time(Date.now())} ${item.count} event(s) left out by ${item.node} (the feed shows at most 1,000/s per node)`)
    : el('li', { 'data-type': item.event.type }, `${time(item.event.ts)} `, el('b', {}, item.event.type), describe(item.event))
  const feed = $('#feed')
  feed.prepend(li)
  while (feed.children.length > FEED_MAX) feed.lastChild.remove()
}
async function openFeed() {
  feedAbort = new AbortController()
  const { signal } = feedAbort
  try {
    const res = await fetch('/admin/api/events', { headers: authHeaders(), signal })
    if (res.status === 401) return showLogin('The key was refused.')
    if (!res.ok || !res.body) throw new Error(`feed: HTTP ${res.status}`)
    $('#feed-state').textContent = 'live'
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
        if (data) addFeedItem(JSON.parse(data))
      }
    }
  } catch (err) {
    if (signal.aborted) return
    $('#feed-state').textContent = `reconnecting (${err.message})`
  }
  if (!signal.aborted) {
    $('#feed-state').textContent = 'reconnecting…'
    setTimeout(() => { if (!signal.aborted) openFeed() }, 2000)
  }
}

boot()
