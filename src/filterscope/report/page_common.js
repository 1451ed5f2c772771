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
  // Numbers right-aligned; a column of words (names, descriptions, rules) left-aligned, header too.
  const NUMERIC = /^\s*([-+−]?[\d.,]+(e[-+]?\d+)?\s*(%|s|×)?|n\/a|—|-|[-+−]?[\d.,]+ \/ [-+−]?[\d.,]+)\s*$/i;
  function table(head, rows) {
    const textOf = (c) => (c instanceof Node ? c.textContent : String(c === null || c === undefined ? "" : c));
    const wordy = head.map((_, j) => j > 0 && rows.some((r) => !NUMERIC.test(textOf(r[j]))));
    const cls = (j) => (wordy[j] ? { class: "words" } : {});
    return h("table", {}, h("thead", {}, h("tr", {}, head.map((c, j) => h("th", cls(j), c)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, j) => h("td", cls(j), c))))));
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
    // Never drawn larger than designed: a chart alone on a wide page keeps the page's font size.
    svg.style.maxWidth = `${width}px`;
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

  // ---------- charts on d3 (the page's first script: Debian's node-d3, pasted in at build time) ----------
  // Every axis, tick, legend and layout below comes from d3; what this adds is the fitting: margins
  // sized to the tick labels and titles actually drawn (measured with the page's font), legends that
  // wrap, marker labels stacked in rows so that none covers another. The browser tests measure the
  // rendered labels independently (tests/report/label_layout.py).
  const FONT = getComputedStyle(document.body).fontFamily || "sans-serif";
  const measure = document.createElement("canvas").getContext("2d");
  function textWidth(str, size = 12) { measure.font = `${size}px ${FONT}`; return measure.measureText(String(str)).width; }
  const TICK_FONT = 11;

  // Ticks and their labels for one axis. spec: { domain, type ("linear" | "log"), integer, format, count, nice }.
  function axisTicks(spec, scale, room) {
    if (spec.values) return { ticks: spec.values, format: (t) => spec.labels[spec.values.indexOf(t)], labels: spec.labels };
    const count = spec.count || Math.max(2, Math.min(10, Math.floor(room)));
    let ticks = scale.ticks(count);
    if (spec.integer) ticks = ticks.filter((t) => Number.isInteger(t));
    if (spec.type === "log" && ticks.length > 8) ticks = ticks.filter((t) => Number.isInteger(Math.log10(t) + 1e-12) || Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9);
    // Fixed notation with as many decimals as the step needs ("0.0024", "190"), exponents only for
    // magnitudes that fixed notation would bury in zeros.
    const big = d3.max(scale.domain(), (v) => Math.abs(v));
    const linear = big >= 1e5 || (big > 0 && big < 1e-3) ? "~e" : "~f";
    const base = spec.integer ? d3.format("d") : spec.type === "log" ? d3.format("~g") : scale.tickFormat(count, linear);
    const format = spec.format || base;
    return { ticks, format, labels: ticks.map((t) => String(format(t))) };
  }

  function makeScale(spec, range) {
    let lo = spec.domain[0], hi = spec.domain[1];
    if (!isNum(lo) || !isNum(hi)) { lo = 0; hi = 1; }
    if (spec.type === "log") {
      if (!(hi > lo)) hi = lo * 10;
      const sc = d3.scaleLog().domain([lo, hi]).range(range);
      return spec.nice === false ? sc : sc.nice();
    }
    if (hi === lo) { lo -= 0.5; hi += 0.5; }
    const pad = spec.pad || 0;
    const sc = d3.scaleLinear().domain([lo - pad, hi + pad]).range(range);
    return spec.nice === false || pad ? sc : sc.nice();
  }

  // A chart with axes. o: { width, height, x, y, y2 (right axis, optional): axis specs with label and
  // color; legend: [{ name, color, kind: "line" | "dash" | "bar" | "dot" }]; markers: [{ x, label, color }] }.
  // Returns the chartBox plus g (a d3 selection to draw in), the scales x, y, y2 and the plot's box.
  function axisChart(title, o) {
    const W = o.width || 560, H = o.height || 300;
    const c = chartBox(title, W, H);
    const g = d3.select(c.svg).append("g");
    // The y axis first, on a provisional height: its widest tick label sets the left margin.
    // d3's ticks depend on the domain and the count only, so the same count gives the same labels later.
    const yCount = (H - 70) / 38;
    const yProvisional = makeScale(o.y, [H - 60, 10]);
    const yt = axisTicks(o.y, yProvisional, yCount);
    const L = 8 + d3.max(yt.labels, (l) => textWidth(l, TICK_FONT)) + 6 + (o.y.label ? 18 : 0);
    let R = 14, y2t = null;
    if (o.y2) {
      y2t = axisTicks(o.y2, makeScale(o.y2, [H - 60, 10]), yCount);
      R = 8 + d3.max(y2t.labels, (l) => textWidth(l, TICK_FONT)) + 6 + (o.y2.label ? 18 : 0);
    }
    const x = makeScale(o.x, [L, W - R]);
    const xt = axisTicks(o.x, x, (W - L - R) / 70);
    // The last x tick label may reach past the plot's right edge: keep it inside the chart.
    if (!o.y2 && xt.labels.length) R = Math.max(R, textWidth(xt.labels[xt.labels.length - 1], TICK_FONT) / 2 + 4);
    x.range([L, W - R]);
    // Category labels too wide for their room stand upright under their ticks.
    const xWidest = d3.max(xt.labels, (l) => textWidth(l, TICK_FONT)) || 0;
    const upright = xt.labels.length > 1 && xWidest + 8 > (W - L - R) / xt.labels.length;
    const xLabelsHeight = upright ? xWidest + 12 : 22;
    // Marker labels in rows above the plot: a label goes into the first row where it meets no other.
    const rows = [];
    const placed = (o.markers || []).map((m) => {
      const w = textWidth(m.label, 11), px = x(m.x);
      const anchorEnd = px + 4 + w > W - 2;
      const x0 = anchorEnd ? px - 4 - w : px + 4;
      let row = rows.findIndex((r) => r.every(([a, b]) => x0 + w + 6 < a || x0 > b + 6));
      if (row < 0) { rows.push([]); row = rows.length - 1; }
      rows[row].push([x0, x0 + w]);
      return { ...m, px, anchorEnd, row };
    });
    const T = 10 + rows.length * 14;
    // The legend under the x axis title, wrapped to the chart's width.
    const legendItems = (o.legend || []).map((it) => ({ ...it, w: 20 + textWidth(it.name, 11) + 14 }));
    const legendRows = [];
    let lx = Infinity;
    for (const it of legendItems) {
      if (lx + it.w > W - 8) { legendRows.push([]); lx = L; }
      legendRows[legendRows.length - 1].push({ ...it, x: lx });
      lx += it.w;
    }
    const B = xLabelsHeight + (o.x.label ? 18 : 0) + legendRows.length * 17 + (legendRows.length ? 4 : 0);
    const y = makeScale(o.y, [H - B, T]);
    const yTicks = axisTicks(o.y, y, yCount);
    g.append("g").selectAll("line").data(yTicks.ticks).join("line")
      .attr("x1", L).attr("x2", W - R).attr("y1", (t) => y(t)).attr("y2", (t) => y(t)).attr("stroke", "#e8ebf0");
    const styleAxis = (sel, color) => {
      sel.attr("font-size", TICK_FONT).attr("font-family", null);
      sel.selectAll("path, line").attr("stroke", "#888");
      if (color) sel.selectAll("text").attr("fill", color);
    };
    const xAxis = g.append("g").attr("transform", `translate(0,${H - B})`)
      .call(d3.axisBottom(x).tickValues(xt.ticks).tickFormat(xt.format).tickSizeOuter(0)).call(styleAxis);
    if (upright) xAxis.selectAll("text").attr("transform", "rotate(-90)").attr("x", -9).attr("y", 0).attr("dy", "0.32em").attr("text-anchor", "end");
    g.append("g").attr("transform", `translate(${L},0)`)
      .call(d3.axisLeft(y).tickValues(yTicks.ticks).tickFormat(yTicks.format).tickSizeOuter(0)).call(styleAxis);
    let y2 = null;
    if (o.y2) {
      y2 = makeScale(o.y2, [H - B, T]);
      const t2 = axisTicks(o.y2, y2, yCount);
      g.append("g").attr("transform", `translate(${W - R},0)`)
        .call(d3.axisRight(y2).tickValues(t2.ticks).tickFormat(t2.format).tickSizeOuter(0)).call((sel) => styleAxis(sel, o.y2.color));
      if (o.y2.label) g.append("text").attr("transform", `translate(${W - 11},${(T + H - B) / 2}) rotate(90)`)
        .attr("text-anchor", "middle").attr("dominant-baseline", "middle").attr("font-size", 12).attr("fill", o.y2.color || null).text(o.y2.label);
    }
    if (o.x.label) g.append("text").attr("x", (L + W - R) / 2).attr("y", H - B + xLabelsHeight + 14).attr("text-anchor", "middle")
      .attr("font-size", 12).text(o.x.label);
    if (o.y.label) g.append("text").attr("transform", `translate(12,${(T + H - B) / 2}) rotate(-90)`)
      .attr("text-anchor", "middle").attr("dominant-baseline", "middle").attr("font-size", 12).text(o.y.label);
    for (const m of placed) {
      g.append("line").attr("x1", m.px).attr("x2", m.px).attr("y1", 6 + m.row * 14).attr("y2", H - B)
        .attr("stroke", m.color).attr("stroke-dasharray", "5 4").attr("stroke-width", 1.5);
      g.append("text").attr("x", m.anchorEnd ? m.px - 4 : m.px + 4).attr("y", 17 + m.row * 14).attr("font-size", 11)
        .attr("text-anchor", m.anchorEnd ? "end" : "start").attr("fill", m.color).text(m.label);
    }
    legendRows.forEach((row, r) => {
      const ly = H - 8 - (legendRows.length - 1 - r) * 17;
      for (const it of row) {
        if (it.kind === "bar") g.append("rect").attr("x", it.x).attr("y", ly - 9).attr("width", 14).attr("height", 10).attr("fill", it.color).attr("opacity", 0.45);
        else if (it.kind === "dot") g.append("circle").attr("cx", it.x + 7).attr("cy", ly - 4).attr("r", 4).attr("fill", it.color);
        else g.append("line").attr("x1", it.x).attr("x2", it.x + 16).attr("y1", ly - 4).attr("y2", ly - 4).attr("stroke", it.color)
          .attr("stroke-width", 2).attr("stroke-dasharray", it.kind === "dash" ? (it.dash || "4 3") : null);
        g.append("text").attr("x", it.x + 20).attr("y", ly).attr("font-size", 11).text(it.name);
      }
    });
    // Marks stay inside the plot (a bar at the first epoch, a curve beyond a fixed axis).
    const clipId = "clip" + (++axisChart.count);
    d3.select(c.svg).append("defs").append("clipPath").attr("id", clipId)
      .append("rect").attr("x", L).attr("y", T - 1).attr("width", W - L - R).attr("height", H - B - T + 2);
    const plot = g.append("g").attr("clip-path", `url(#${clipId})`);
    return { ...c, g, plot, x, y, y2, L, R, T, B, W, H };
  }
  axisChart.count = 0;

  // A vertical colour bar with its own axis: scale maps a value to a colour; domain [lo, hi].
  function colorBar(g, x0, y0, height, color, domain, label, format) {
    const n = 32, id = "grad" + (++axisChart.count);
    const grad = g.append("defs").append("linearGradient").attr("id", id).attr("x1", 0).attr("x2", 0).attr("y1", 1).attr("y2", 0);
    for (let i = 0; i <= n; ++i) grad.append("stop").attr("offset", i / n).attr("stop-color", color(domain[0] + (domain[1] - domain[0]) * i / n));
    g.append("rect").attr("x", x0).attr("y", y0).attr("width", 12).attr("height", height).attr("fill", `url(#${id})`).attr("stroke", "#ccc");
    const sc = d3.scaleLinear().domain(domain).range([y0 + height, y0]);
    const ticks = sc.ticks(Math.max(2, Math.floor(height / 30)));
    g.append("g").attr("transform", `translate(${x0 + 12},0)`)
      .call(d3.axisRight(sc).tickValues(ticks).tickFormat(format || sc.tickFormat(5, "~g")).tickSizeOuter(0))
      .attr("font-size", TICK_FONT).attr("font-family", null);
    if (label) g.append("text").attr("x", x0).attr("y", y0 - 6).attr("font-size", 11).text(label);
    const widest = d3.max(ticks, (t) => textWidth((format || sc.tickFormat(5, "~g"))(t), TICK_FONT));
    return 12 + 6 + widest + 4;  // the width it takes
  }
