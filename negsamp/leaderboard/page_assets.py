"""The page's inline style sheet and script (their hashes go into the Content-Security-Policy)."""

_CSS = """
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --head: #f6f8fa;
  --accent: #0b5cad; --good: #1a7f37; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); margin: 0; padding: 24px 32px; line-height: 1.45; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
p.lead { color: var(--muted); margin: 0 0 16px; max-width: 70rem; }
.controls { display: flex; gap: 12px; align-items: center; margin: 12px 0; flex-wrap: wrap; }
.controls input { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px;
  min-width: 18rem; }
#count { color: var(--muted); }
.scroll { overflow-x: auto; }
table.board { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
table.board th, table.board td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
  vertical-align: top; }
table.board thead th { background: var(--head); vertical-align: bottom; }
table.board th.num, table.board td.num { text-align: right; font-variant-numeric: tabular-nums; }
th button.sort { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer;
  color: inherit; text-align: inherit; }
th button.sort::after { content: " \\2195"; color: #8c959f; }
th[aria-sort="ascending"] button.sort::after { content: " \\2191"; color: var(--accent); }
th[aria-sort="descending"] button.sort::after { content: " \\2193"; color: var(--accent); }
td.name a { color: var(--accent); }
td.name { min-width: 11rem; max-width: 24rem; overflow-wrap: anywhere; font-weight: 600; }
td.spec { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85rem;
  min-width: 11rem; max-width: 20rem; overflow-wrap: anywhere; }
td.model, td.release { min-width: 7rem; max-width: 16rem; overflow-wrap: anywhere; }
td.date { white-space: nowrap; }
.sub { color: var(--muted); font-size: 0.8rem; font-weight: normal; }
button.toggle { font: inherit; font-size: 0.8rem; padding: 2px 8px; border: 1px solid var(--line);
  border-radius: 6px; background: #fff; cursor: pointer; white-space: nowrap; }
tr.detail > td { background: #fbfcfd; padding: 8px 16px 14px; }
table.tasks { border-collapse: collapse; font-size: 0.85rem; }
table.tasks th, table.tasks td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: right; }
table.tasks th:first-child, table.tasks td:first-child { text-align: left; }
.notes { color: var(--muted); font-size: 0.85rem; max-width: 70rem; margin-top: 20px; }
.empty { color: var(--muted); padding: 16px 0; }
.badge { display: inline-block; font-size: 0.75rem; font-weight: 600; padding: 1px 7px; border-radius: 10px;
  border: 1px solid var(--line); white-space: nowrap; }
.badge.verified { color: #fff; background: var(--good); border-color: var(--good); }
.badge.claimed { color: var(--muted); background: #fff; }
.badge.type-eviction { color: #0b5cad; border-color: #0b5cad; }
.badge.type-quantization { color: #c2410c; border-color: #c2410c; }
.badge.type-baseline, .badge.type-other { color: var(--muted); }
td.notes-cell { min-width: 9rem; max-width: 18rem; font-size: 0.85rem; color: var(--muted); }
h2 { font-size: 1.2rem; margin: 28px 0 4px; }
section.release h3 { font-size: 1rem; margin: 18px 0 2px; }
section.release p.sub { margin: 0 0 6px; }
figure.chart { margin: 0; max-width: 680px; }
figure.chart svg { width: 100%; height: auto; }
figure.chart figcaption { color: var(--muted); font-size: 0.85rem; }
"""

_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("leaderboard-data").textContent);
  var entries = data.entries;
  var body = document.getElementById("board-body");
  var filter = document.getElementById("filter");
  var count = document.getElementById("count");
  var state = { key: null, dir: 1 };

  function rowOf(i) { return document.getElementById("row-" + i); }
  function detailOf(i) { return document.getElementById("detail-" + i); }

  function compare(a, b) {
    var x = entries[a][state.key], y = entries[b][state.key];
    if (Array.isArray(x)) { x = x.join("; "); }
    if (Array.isArray(y)) { y = y.join("; "); }
    var xn = x === null || x === undefined, yn = y === null || y === undefined;
    if (xn || yn) { return xn && yn ? a - b : (xn ? 1 : -1); }
    var c;
    if (typeof x === "string") { c = x < y ? -1 : (x > y ? 1 : 0); } else { c = x - y; }
    return c !== 0 ? c * state.dir : a - b;
  }

  function sortBy(key) {
    if (state.key === key) { state.dir = -state.dir; } else { state.key = key; state.dir = 1; }
    var order = entries.map(function (_, i) { return i; }).sort(compare);
    order.forEach(function (i) { body.appendChild(rowOf(i)); body.appendChild(detailOf(i)); });
    document.querySelectorAll("th[data-key]").forEach(function (th) {
      var on = th.getAttribute("data-key") === key;
      th.setAttribute("aria-sort", on ? (state.dir > 0 ? "ascending" : "descending") : "none");
    });
  }

  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    var shown = 0;
    entries.forEach(function (e, i) {
      var hay = [e.name, e.method, e.method_type, e.model, e.release, e.source].join("\\n").toLowerCase();
      var ok = q === "" || hay.indexOf(q) !== -1;
      rowOf(i).hidden = !ok;
      var toggle = rowOf(i).querySelector("button.toggle");
      detailOf(i).hidden = !ok || toggle.getAttribute("aria-expanded") !== "true";
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + entries.length + " shown";
  }

  document.querySelectorAll("th[data-key]").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th.getAttribute("data-key")); });
  });
  document.querySelectorAll("button.toggle").forEach(function (button) {
    button.addEventListener("click", function () {
      var i = button.getAttribute("data-i");
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.textContent = open ? "Hide tasks" : "Per task";
      detailOf(i).hidden = !open || rowOf(i).hidden;
    });
  });
  filter.addEventListener("input", applyFilter);
  applyFilter();
})();
"""
