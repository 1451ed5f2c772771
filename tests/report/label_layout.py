"""Overlapping and clipped labels in a rendered page, measured in the browser by the test, not by
the page: every visible SVG <text> (tick labels, axis titles, legends, annotations) is boxed with
getBoundingClientRect after the page's scripts ran, and two kinds of problem are reported:

  overlap  two labels of one chart whose boxes share more than a sliver (> 2 px across and more than
           a third of the smaller label's height: the ascender/descender slack of two stacked lines
           stays below that);
  clipped  a label that reaches more than 1 px beyond its <svg>'s box (an SVG clips what lies
           outside), or an HTML element with class "nowrap-check" whose content is wider than its box.

Used by every page's browser test through Selenium (`label_problems(driver)`).
"""

LAYOUT_SCRIPT = r"""
const problems = [];
const visible = (e) => {
  for (let n = e; n && n.nodeType === 1; n = n.parentNode) {
    const st = getComputedStyle(n);
    if (st.display === "none" || st.visibility === "hidden" || +st.opacity === 0) return false;
  }
  return true;
};
const name = (svg) => {
  const box = svg.closest(".chart, section, div");
  const h = box && box.querySelector("h3, h4");
  return (h ? h.textContent.trim() : (svg.getAttribute("aria-label") || "svg")).slice(0, 60);
};
for (const svg of document.querySelectorAll("svg")) {
  if (!visible(svg)) continue;
  const frame = svg.getBoundingClientRect();
  if (frame.width < 2 || frame.height < 2) continue;
  const labels = [];
  for (const t of svg.querySelectorAll("text")) {
    const str = t.textContent.trim();
    if (!str || !visible(t)) continue;
    const r = t.getBoundingClientRect();
    if (r.width < 0.5 || r.height < 0.5) continue;
    labels.push({ str, r });
    const out = Math.max(frame.left - r.left, r.right - frame.right, frame.top - r.top, r.bottom - frame.bottom);
    if (out > 1) problems.push(`clipped: "${str.slice(0, 40)}" in "${name(svg)}" reaches ${out.toFixed(1)} px outside its chart`);
  }
  for (let i = 0; i < labels.length; ++i) {
    for (let j = i + 1; j < labels.length; ++j) {
      const a = labels[i].r, b = labels[j].r;
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 2 && h > Math.min(a.height, b.height) / 3)
        problems.push(`overlap: "${labels[i].str.slice(0, 40)}" and "${labels[j].str.slice(0, 40)}" in "${name(svg)}"`);
    }
  }
}
for (const e of document.querySelectorAll(".nowrap-check")) {
  if (visible(e) && e.scrollWidth > e.clientWidth + 1)
    problems.push(`clipped: "${e.textContent.trim().slice(0, 40)}" is wider than its box (${e.scrollWidth} > ${e.clientWidth} px)`);
}
return problems;
"""


def label_problems(driver, limit=40):
    """The overlap and clipping problems of the page the driver shows (at most `limit` lines, then a count)."""
    found = driver.execute_script(LAYOUT_SCRIPT)
    if len(found) > limit:
        found = found[:limit] + [f"... and {len(found) - limit} more"]
    return found
