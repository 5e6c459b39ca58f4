// Takes docs/demo.png: runs the demo (examples/demo.ts) in a detached tmux session of 120x40, captures the pane
// with its colours (`tmux capture-pane -e -p`) during the fault, turns the ANSI text into HTML and screenshots
// that in headless Chromium.
//
//   node scripts/screenshot-demo.mjs [--at drop|kill] [--delay <ms>] [--out docs/demo.png]
//
// --at: the fault to capture, by the demo's own line for it (default kill: the server process was killed);
// --delay: how long after that line appears (default 400 ms). Needs tmux and Debian's chromium
// (apt-get install -y tmux chromium); playwright-core comes from the examples' devDependencies.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const root = fileURLToPath(new URL("..", import.meta.url))
const { values } = parseArgs({
  options: {
    at: { type: "string", default: "kill" },
    delay: { type: "string", default: "400" },
    out: { type: "string", default: "docs/demo.png" }
  }
})
const markers = { drop: "the server drops every connection", kill: "is killed" }
const marker = markers[values.at]
if (marker === undefined) throw new Error(`--at ${values.at}: use drop or kill`)

const columns = 120
const rows = 40
const session = `connection-pool-demo-shot-${process.pid}`
const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis))
const tmux = (...args) => execFileSync("tmux", args, { encoding: "utf8" })

// ---- capture ------------------------------------------------------------------------------------------------------

const capture = async () => {
  const size = ["-x", String(columns), "-y", String(rows)]
  tmux(
    ...["new-session", "-d", "-s", session, ...size, "-c", root, "-e", "TERM=xterm-256color"],
    // the pane stays after the demo exits, so that a late capture still finds it
    `node_modules/.bin/tsx examples/demo.ts; echo demo-exited; sleep 60`
  )
  try {
    const deadline = Date.now() + 60_000
    while (!tmux("capture-pane", "-p", "-t", session).includes(marker)) {
      if (Date.now() > deadline) throw new Error(`the demo never printed "${marker}"`)
      await sleep(50)
    }
    await sleep(Number(values.delay))
    return tmux("capture-pane", "-e", "-p", "-t", session)
  } finally {
    // Ctrl-C, so that the demo stops its server and removes its socket, then the session.
    tmux("send-keys", "-t", session, "C-c")
    const deadline = Date.now() + 10_000
    while (!tmux("capture-pane", "-p", "-t", session).includes("demo-exited") && Date.now() < deadline) await sleep(100)
    tmux("kill-session", "-t", session)
  }
}

// ---- ANSI to HTML -------------------------------------------------------------------------------------------------

// A dark theme's 16 colours (normal, then bright).
const palette = [
  "#1d1f21",
  "#e06c75",
  "#98c379",
  "#e5c07b",
  "#61afef",
  "#c678dd",
  "#56b6c2",
  "#d7dae0",
  "#5c6370",
  "#ff7b86",
  "#b5e890",
  "#ffd68a",
  "#7cc5ff",
  "#de9bf0",
  "#7fd4de",
  "#ffffff"
]
const foreground = "#d7dae0"
const background = "#1d1f21"

/** The xterm 256-colour palette: 16 above, a 6x6x6 cube, then 24 greys. */
const color256 = (n) => {
  if (n < 16) return palette[n]
  if (n >= 232) {
    const level = 8 + (n - 232) * 10
    return `rgb(${level},${level},${level})`
  }
  const steps = [0, 95, 135, 175, 215, 255]
  const i = n - 16
  return `rgb(${steps[Math.floor(i / 36)]},${steps[Math.floor(i / 6) % 6]},${steps[i % 6]})`
}

const escapeHtml = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

// Escape sequences (CSI), and among them those that set colours and weights (SGR). no-control-regex is off for
// these two because matching the ESC control character (\x1b) in tmux's capture is exactly their job.
// eslint-disable-next-line no-control-regex
const escapeSequence = /(\x1b\[[0-9;?]*[A-Za-z])/
// eslint-disable-next-line no-control-regex
const selectGraphicRendition = /^\x1b\[([0-9;]*)m$/

/** One line of SGR-coloured text as HTML spans. Other escape sequences are dropped. */
const lineToHtml = (line, state) => {
  let html = ""
  const open = () => {
    const style = []
    if (state.fg) style.push(`color:${state.fg}`)
    if (state.bg) style.push(`background:${state.bg}`)
    if (state.bold) style.push("font-weight:bold")
    if (state.dim) style.push("opacity:0.55")
    return style.length === 0 ? "<span>" : `<span style="${style.join(";")}">`
  }
  for (const part of line.split(escapeSequence)) {
    const sgr = selectGraphicRendition.exec(part)
    if (sgr !== null) {
      const codes = sgr[1] === "" ? [0] : sgr[1].split(";").map(Number)
      for (let i = 0; i < codes.length; i++) {
        const code = codes[i]
        if (code === 0) Object.assign(state, { fg: undefined, bg: undefined, bold: false, dim: false })
        else if (code === 1) state.bold = true
        else if (code === 2) state.dim = true
        else if (code === 22) Object.assign(state, { bold: false, dim: false })
        else if (code >= 30 && code <= 37) state.fg = palette[code - 30]
        else if (code >= 90 && code <= 97) state.fg = palette[code - 90 + 8]
        else if (code === 39) state.fg = undefined
        else if (code >= 40 && code <= 47) state.bg = palette[code - 40]
        else if (code === 49) state.bg = undefined
        else if ((code === 38 || code === 48) && codes[i + 1] === 5) {
          state[code === 38 ? "fg" : "bg"] = color256(codes[i + 2])
          i += 2
        } else if ((code === 38 || code === 48) && codes[i + 1] === 2) {
          state[code === 38 ? "fg" : "bg"] = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`
          i += 4
        }
      }
    } else if (!part.startsWith("\x1b")) {
      html += `${open()}${escapeHtml(part)}</span>`
    }
  }
  return html
}

const toHtml = (ansi) => {
  const state = { fg: undefined, bg: undefined, bold: false, dim: false }
  const lines = ansi.replace(/\n$/, "").split("\n").slice(0, rows)
  const body = lines.map((line) => `<div class="line">${lineToHtml(line, state) || " "}</div>`).join("")
  return `<!doctype html>
<html><head><meta charset="utf-8"><style>
  body { margin: 0; background: #0b0c0e; }
  #window { display: inline-block; margin: 24px; border-radius: 8px; overflow: hidden; background: ${background};
    box-shadow: 0 8px 24px rgba(0, 0, 0, 0.5); }
  #bar { height: 28px; background: #2c2f33; display: flex; align-items: center; padding-left: 12px; gap: 8px;
    font: 13px "DejaVu Sans", sans-serif; color: #9da5b4; }
  .dot { width: 12px; height: 12px; border-radius: 50%; }
  #bar span.title { margin-left: 12px; }
  #screen { padding: 12px 16px; color: ${foreground}; font: 14px/1.3 "DejaVu Sans Mono", monospace;
    white-space: pre; width: ${columns}ch; }
  .line { height: 1.3em; }
</style></head><body><div id="window">
  <div id="bar"><div class="dot" style="background:#ff5f56"></div><div class="dot" style="background:#ffbd2e">
  </div><div class="dot" style="background:#27c93f"></div><span class="title">pnpm start — ${columns}x${rows}</span></div>
  <div id="screen">${body}</div>
</div></body></html>`
}

// ---- screenshot ---------------------------------------------------------------------------------------------------

const screenshot = async (html, out) => {
  const require = createRequire(path.join(root, "examples", "package.json"))
  const { chromium } = require("playwright-core")
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run"
    ]
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 2 })
    await page.setContent(html)
    await page.locator("#window").screenshot({ path: out })
  } finally {
    await browser.close()
  }
}

const ansi = await capture()
const out = path.resolve(root, values.out)
fs.mkdirSync(path.dirname(out), { recursive: true })
await screenshot(toHtml(ansi), out)
console.log(`wrote ${path.relative(root, out)} (${fs.statSync(out).size} bytes) from a capture taken at "${marker}"`)
