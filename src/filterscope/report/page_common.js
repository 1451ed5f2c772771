// Shared by every filterscope page: error capture, DOM/SVG helpers, number formats, chart boxes.
// Pasted into each page's script (inside its function), before the page's own code.
  const errors = [];
  const errorBox = document.getElementById("report-errors");
  function recordError(message) { errors.push(String(message)); errorBox.textContent = errors.join("\n"); }
  window.addEventListener("error", (e) => recordError(e.message || "script error"));
  const consoleError = console.error.bind(console);
  console.error = (...args) => { recordError(args.join(" ")); consoleError(...args); };

  const SVG = "http://www.w3.org/2000/svg";
  const root = document.getElementById("report");
  const data = JSON.parse(document.getElementById("report-data").textContent);

  // ---------- small helpers ----------
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  function s(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, str, attrs) {
    const t = s("text", Object.assign({ x, y, "font-size": 12 }, attrs || {}), parent);
    t.textContent = str;
    return t;
  }
  const isNum = (v) => typeof v === "number" && isFinite(v);
  const pct = (v, d = 1) => isNum(v) ? (100 * v).toFixed(d) + "%" : "n/a";
  const fix = (v, d = 2) => isNum(v) ? v.toFixed(d) : "n/a";
  const sci = (v) => isNum(v) ? v.toExponential(3) : "n/a";
  const signed = (v) => isNum(v) ? (v >= 0 ? "+" : "") + v.toFixed(2) : "n/a";
  function table(head, rows) {
    return h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
  }
  function section(title, ...content) { root.append(h("h2", {}, title), ...content); }
  function missingNote(what) { return h("p", { class: "note" }, what); }
  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) { hi = lo + 1; }
    const step0 = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= step0) || step0;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toFixed(10));
    return ticks;
  }

  // A chart container whose SVG reports how many marks it drew (the browser test reads it).
  function chartBox(title, width, height) {
    const box = h("div", { class: "chart" });
    if (title) box.append(h("h3", {}, title));
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title || "chart" });
    box.appendChild(svg);
    box.dataset.marks = "0";
    const mark = (n = 1) => { box.dataset.marks = String(+box.dataset.marks + n); };
    return { box, svg, mark };
  }

  // Self-check for the browser test: every chart drew something; the body says how many charts
  // there are and whether the script met an error.
  function finishPage() {
    const empty = [...document.querySelectorAll(".chart")].filter((c) => +c.dataset.marks === 0);
    for (const c of empty) recordError("empty chart: " + (c.querySelector("h3") ? c.querySelector("h3").textContent : "scatter"));
    document.body.dataset.charts = String(document.querySelectorAll(".chart").length);
    document.body.dataset.status = errors.length ? "errors" : "ok";
  }
