// The live board: one card per race and state, fed by /v1/stream (Server-Sent Events).
// EventSource reconnects by itself and sends Last-Event-ID, so the gateway resends what the
// board missed; versions decide which snapshot is newest, as on the server.
"use strict";

const MAX_ALERTS = 12;
const snapshots = new Map(); // "election/race/state/mode" -> latest state-result/1
const alertIds = new Set(); // a resync burst resends recent alerts: show each once
const racesEl = document.getElementById("races");
const alertsEl = document.getElementById("alerts");
const statusEl = document.getElementById("status");
const numberFormat = new Intl.NumberFormat("en-US");

function keyOf(s) { return [s.election_id, s.race_id, s.state, s.mode].join("/"); }

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text; // never innerHTML: names come from feeds
  return node;
}

function bar(percent) {
  const outer = el("div", "bar");
  const inner = el("span");
  inner.style.width = Math.max(0, Math.min(100, percent || 0)) + "%";
  outer.append(inner);
  return outer;
}

function candidateRow(c, leader) {
  const row = el("div", "candidate party-" + String(c.party || "").toUpperCase());
  if (c.candidate_id === leader) row.classList.add("leader");
  row.append(el("span", "name", c.name + (c.party ? " (" + c.party + ")" : "")),
             el("span", "pct", Number(c.pct).toFixed(1) + "%"),
             el("span", "votes", numberFormat.format(c.votes) + " votes"), bar(c.pct));
  return row;
}

function countedBlock(s) {
  const expected = s.pct_expected_counted !== null && s.pct_expected_counted !== undefined;
  const pct = expected ? s.pct_expected_counted : s.pct_precincts_reporting;
  const label = expected ? Math.floor(pct) + "% of expected vote counted"
                         : Math.floor(pct || 0) + "% of precincts reporting";
  const block = el("div", "counted");
  block.append(el("span", "label", label), bar(pct));
  return block;
}

function title(s) {
  const h = el("h2");
  const name = el("span", "state", s.state);
  if (s.mode === "test") name.append(" ", el("span", "badge", "TEST"));
  h.append(name, el("span", "office", s.race_id.replace(/[-_]/g, " ") + " · " + s.election_id));
  return h;
}

function card(s) {
  const article = el("article", "race");
  article.dataset.key = keyOf(s);
  article.append(title(s));
  for (const c of (s.candidates || []).slice(0, 4)) article.append(candidateRow(c, s.leader));
  const readout = el("p", "readout", s.readout || "");
  readout.dataset.testid = "readout";
  article.append(countedBlock(s), readout, el("p", "as-of", "as of " + new Date(s.as_of).toLocaleTimeString()));
  return article;
}

function place(key, node) {
  const existing = racesEl.querySelector('[data-key="' + CSS.escape(key) + '"]');
  if (existing) { existing.replaceWith(node); return; }
  document.getElementById("empty")?.remove();
  const after = [...racesEl.children].find((other) => other.dataset.key > key);
  racesEl.insertBefore(node, after || null);
}

function showSnapshot(s) {
  const key = keyOf(s);
  const held = snapshots.get(key);
  if (held && held.version >= s.version) return;
  snapshots.set(key, s);
  const node = card(s);
  if (held) node.classList.add("updated");
  place(key, node);
  if (held) setTimeout(() => node.classList.remove("updated"), 1500);
}

function showAlert(a) {
  if (alertIds.has(a.alert_id)) return;
  alertIds.add(a.alert_id);
  const item = el("li", a.severity);
  const at = new Date(a.at);
  item.append(el("time", "", isNaN(at) ? "" : at.toLocaleTimeString()), a.state + ": " + a.message);
  alertsEl.prepend(item);
  while (alertsEl.children.length > MAX_ALERTS) alertsEl.lastElementChild.remove();
}

function setStatus(state, text) { statusEl.className = "status " + state; statusEl.textContent = text; }

function connect() {
  const source = new EventSource("/v1/stream?kinds=state,alert");
  source.addEventListener("state", (e) => showSnapshot(JSON.parse(e.data)));
  source.addEventListener("alert", (e) => showAlert(JSON.parse(e.data)));
  source.addEventListener("sync", () => setStatus("live", "live"));
  source.addEventListener("open", () => setStatus("live", "live"));
  source.addEventListener("error", () => setStatus("reconnecting", "reconnecting…"));
}

connect();
