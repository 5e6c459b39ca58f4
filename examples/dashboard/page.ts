/**
 * The dashboard's one page: plain HTML, CSS and an inline script, so there is nothing to build. The script polls
 * `/api/pool` every 500 ms (the next poll starts when the last one has finished, so a slow answer never piles
 * requests up) and renders the snapshot as it is. Elements carry `data-*` attributes naming what they show, for
 * the browser test.
 */
import { PoolEvent } from "@connection-pool/core"

const style = `
:root {
  --bg: #0f172a; --panel: #1e293b; --line: #334155; --text: #e2e8f0; --muted: #94a3b8;
  --green: #22c55e; --amber: #f59e0b; --red: #ef4444; --blue: #38bdf8;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; align-items: center; gap: 12px; padding: 12px 20px 4px; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; white-space: nowrap; flex: 1; }
.status { display: flex; align-items: center; gap: 12px; padding: 0 20px 10px 42px; border-bottom: 1px solid var(--line);
  color: var(--muted); white-space: nowrap; }
.status #where { overflow: hidden; text-overflow: ellipsis; flex: 1; }
.status #fault { color: var(--amber); }
.badge { background: #78350f; color: #fde68a; border-radius: 10px; padding: 0 8px; font-size: 12px; }
.badge:empty { display: none; }
.live { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: var(--muted); }
.live.on { background: var(--green); box-shadow: 0 0 6px var(--green); }
.live.off { background: var(--red); }
button { white-space: nowrap; background: var(--panel); color: var(--text); border: 1px solid var(--line); border-radius: 6px;
  padding: 6px 12px; font: inherit; cursor: pointer; }
button:hover { border-color: var(--blue); }
main { padding: 16px 20px; display: grid; gap: 16px; }
.cards { display: grid; grid-template-columns: repeat(8, 1fr); gap: 10px; }
.card { background: var(--panel); border-radius: 8px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 12px; }
.columns { display: grid; grid-template-columns: 2fr 1fr; gap: 16px; align-items: start; }
section { background: var(--panel); border-radius: 8px; padding: 12px 14px; }
section h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th { text-align: left; color: var(--muted); font-weight: 500; font-size: 12px; padding: 4px 6px;
  border-bottom: 1px solid var(--line); }
td { padding: 5px 6px; border-bottom: 1px solid #263449; }
tr.closing td { opacity: .45; }
.state { display: inline-block; min-width: 64px; text-align: center; border-radius: 10px; padding: 1px 8px;
  font-size: 12px; }
.state.idle { background: #1e3a5f; color: #bae6fd; }
.state.in-use { background: #14532d; color: #bbf7d0; }
.state.checking { background: #4c1d95; color: #ddd6fe; }
.state.closing { background: #7f1d1d; color: #fecaca; }
.health { display: flex; align-items: center; gap: 8px; }
.bar { flex: 1; height: 10px; background: #0b1220; border-radius: 5px; overflow: hidden; min-width: 120px; }
.bar > div { height: 100%; border-radius: 5px; transition: width .3s; }
.score { width: 30px; text-align: right; }
.reasons { display: grid; grid-template-columns: auto 1fr 34px; gap: 4px 8px; align-items: center; }
.reasons .name { color: var(--muted); }
.reasons .name.nonzero { color: var(--text); }
.reasons .count { text-align: right; font-variant-numeric: tabular-nums; }
.reasons .mini { height: 6px; background: var(--amber); border-radius: 3px; }
.feed { list-style: none; margin: 0; padding: 0; font-size: 12px; max-height: 300px; overflow: hidden; }
.feed li { padding: 2px 0; border-bottom: 1px solid #263449; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.feed .t { color: var(--muted); margin-right: 6px; font-variant-numeric: tabular-nums; }
.feed .kind-fault { color: var(--amber); }
.feed .kind-closed, .feed .kind-open-failed, .feed .kind-timeout { color: #fca5a5; }
.feed .kind-opened { color: #86efac; }
.feed .kind-health { color: #c4b5fd; }
.summary { font: 12px/1.5 ui-monospace, monospace; color: var(--muted); word-break: break-word; }
.empty { color: var(--muted); padding: 10px 6px; }
`

const script = `
const $ = (selector) => document.querySelector(selector)
const el = (tag, attributes, text) => {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes ?? {})) node.setAttribute(name, value)
  if (text !== undefined) node.textContent = text
  return node
}
const color = (score) => score > 75 ? "var(--green)" : score > 50 ? "var(--amber)" : "var(--red)"
const seconds = (millis) => (millis / 1000).toFixed(1) + " s"
const reasons = ${JSON.stringify(PoolEvent.closeReasons)}

const setStat = (name, value) => { for (const node of document.querySelectorAll('[data-stat="' + name + '"]')) node.textContent = value }

const render = (s) => {
  const stats = s.stats
  for (const name of ["total", "maxConnections", "idle", "inUse", "waiting", "created", "closed", "timeouts",
    "openFailures", "healthChecks", "healthCheckFailures", "loans", "concurrency"]) setStat(name, String(stats[name]))
  setStat("averageScore", stats.averageScore.toFixed(1))
  setStat("succeeded", String(s.workload.succeeded))
  setStat("failed", String(s.workload.failed))
  setStat("summary", stats.summary)
  $("#where").textContent = 'pool "' + stats.name + '" on ' + s.server + " · up " + seconds(s.now - s.startedAt)
  $("#degraded").textContent = s.faults.degradedUntil > s.now ? "health endpoint degraded" : ""

  const rows = $("#connections")
  rows.replaceChildren()
  if (s.connections.length === 0) {
    const cell = el("td", { colspan: "8", class: "empty" }, "no connection open")
    rows.append(el("tr", { "data-empty": "" })).append(cell)
  }
  for (const c of [...s.connections].sort((a, b) => a.id - b.id)) {
    const row = el("tr", { "data-id": String(c.id), class: c.state })
    row.append(el("td", { "data-field": "id" }, "#" + c.id))
    const state = el("td")
    state.append(el("span", { class: "state " + c.state, "data-field": "state" }, c.state))
    row.append(state)
    const health = el("td")
    const wrap = el("div", { class: "health" })
    const bar = el("div", { class: "bar" })
    bar.append(el("div", { style: "width:" + c.healthScore + "%;background:" + color(c.healthScore) }))
    wrap.append(bar, el("span", { class: "score", "data-field": "healthScore" }, String(c.healthScore)))
    health.append(wrap)
    row.append(health)
    row.append(el("td", { "data-field": "borrowers" }, String(c.borrowers)))
    row.append(el("td", { "data-field": "errorCount" }, String(c.errorCount)))
    row.append(el("td", { "data-field": "useCount" }, String(c.useCount)))
    row.append(el("td", { "data-field": "lastUsed" }, c.useCount === 0 ? "never" : seconds(s.now - c.lastUsedAt) + " ago"))
    row.append(el("td", { "data-field": "age" }, seconds(s.now - c.createdAt)))
    rows.append(row)
  }

  const most = Math.max(1, ...reasons.map((reason) => stats.closedByReason[reason] ?? 0))
  const list = $("#reasons")
  list.replaceChildren()
  for (const reason of reasons) {
    const count = stats.closedByReason[reason] ?? 0
    list.append(el("span", { class: "name" + (count > 0 ? " nonzero" : "") }, reason))
    const track = el("div")
    track.append(el("div", { class: "mini", style: "width:" + (100 * count / most) + "%" }))
    list.append(track, el("span", { class: "count", "data-close": reason }, String(count)))
  }

  const feed = $("#feed")
  feed.replaceChildren()
  for (const entry of s.feed) {
    const item = el("li", { class: "kind-" + entry.kind })
    item.append(el("span", { class: "t" }, seconds(s.now - entry.at) + " ago"), entry.text)
    feed.append(item)
  }
}

let polls = 0
const poll = async () => {
  try {
    const response = await fetch("/api/pool", { cache: "no-store" })
    if (!response.ok) throw new Error("HTTP " + response.status)
    render(await response.json())
    polls++
    document.body.dataset.polls = String(polls)
    $("#live").className = "live on"
  } catch (error) {
    $("#live").className = "live off"
    $("#where").textContent = "dashboard unreachable: " + error.message
  } finally {
    setTimeout(poll, 500)
  }
}

const fault = async (kind) => {
  const response = await fetch("/api/fault/" + kind, { method: "POST" })
  $("#fault").textContent = (await response.json()).message
}
$("#drop").addEventListener("click", () => fault("drop"))
$("#degrade").addEventListener("click", () => fault("degrade"))
poll()
`

const card = (label: string, value: string, sub = "") =>
  `<div class="card"><div class="label">${label}</div><div class="value">${value}</div>` +
  `<div class="sub">${sub}</div></div>`

export const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>connection-pool dashboard</title>
<style>${style}</style>
</head>
<body>
<header>
  <span id="live" class="live"></span>
  <h1>connection-pool dashboard</h1>
  <button id="drop" title="the IPC server closes every connection">Drop connections</button>
  <button id="degrade" title="the server's health endpoint fails for a few seconds">Degrade health checks</button>
</header>
<div class="status">
  <span id="where">connecting…</span>
  <span id="degraded" class="badge"></span>
  <span id="fault"></span>
</div>
<main>
  <div class="cards">
    ${card("open", `<span data-stat="total">-</span>`, `of <span data-stat="maxConnections">-</span> max`)}
    ${card("idle", `<span data-stat="idle">-</span>`)}
    ${
  card(
    "in use",
    `<span data-stat="inUse">-</span>`,
    `<span data-stat="loans">-</span> loans, up to <span data-stat="concurrency">-</span> each`
  )
}
    ${card("waiting", `<span data-stat="waiting">-</span>`, `timeouts <span data-stat="timeouts">-</span>`)}
    ${card("avg health", `<span data-stat="averageScore">-</span>`)}
    ${card("opened", `<span data-stat="created">-</span>`, `open failures <span data-stat="openFailures">-</span>`)}
    ${
  card(
    "health checks",
    `<span data-stat="healthChecks">-</span>`,
    `<span data-stat="healthCheckFailures">-</span> failed`
  )
}
    ${card("requests", `<span data-stat="succeeded">-</span>`, `<span data-stat="failed">-</span> failed`)}
  </div>
  <div class="columns">
    <div style="display:grid;gap:16px">
      <section>
        <h2>Connections</h2>
        <table>
          <thead><tr><th>id</th><th>state</th><th>health</th><th>borrowers</th><th>errors</th><th>uses</th><th>last used</th>
            <th>age</th></tr></thead>
          <tbody id="connections"></tbody>
        </table>
      </section>
      <section><h2>Summary</h2><div class="summary" data-stat="summary">-</div></section>
    </div>
    <div style="display:grid;gap:16px">
      <section>
        <h2>Closed: <span data-stat="closed">-</span>, by reason</h2>
        <div id="reasons" class="reasons"></div>
      </section>
      <section>
        <h2>Activity</h2>
        <ul id="feed" class="feed"></ul>
      </section>
    </div>
  </div>
</main>
<script>${script}</script>
</body>
</html>
`
