// The live board: one card per race and state, fed by /v1/stream (Server-Sent Events).
// EventSource reconnects by itself and sends Last-Event-ID, so the gateway resends what the
// board missed; versions decide which snapshot is newest, as on the server.
// Each card has a county map (shapes from /v1/maps/{state}) shaded by each county's leader and
// margin and hatched where little of the vote is counted, the same counties as a table (the
// map's equivalent for screen readers and keyboards), and "where the vote is left".
// States by name and times in the race's own zone (from /v1/states), never the browser's: a
// reader anywhere sees "as of Nov 5, 2024, 9:40 PM CST", as the embeds and the desk print it.
// A check mark means a race call and nothing else: only beside a winner of a `called` call.
// A call's other states are said in words (a retraction, a runoff, too close), and tags say
// what a race is (runoff, uncontested, vote for N); "incumbent" marks who holds the seat.
"use strict";

const MAX_ALERTS = 12;
const SVG_NS = "http://www.w3.org/2000/svg";
const snapshots = new Map(); // "election/race/state/mode" -> latest state-result/1
const countySnapshots = new Map(); // the same key -> Map(county_fips -> latest county-result/1)
const views = new Map(); // the same key -> the card's county map and table, kept across re-renders
const maps = new Map(); // state -> Promise of its /v1/maps answer, or null without one
const alertIds = new Set(); // a resync burst resends recent alerts: show each once
const racesEl = document.getElementById("races");
const alertsEl = document.getElementById("alerts");
const statusEl = document.getElementById("status");
const numberFormat = new Intl.NumberFormat("en-US");
// The model's range in a label: 2,849,917 is "2.8M" (an estimate needs no more digits).
const roughFormat = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
let partySides = {}; // from /static/parties.json: the one party -> colour side mapping
let places = {}; // from /v1/states: USPS code -> {name, time_zone}
const timeFormats = new Map(); // "zone|year" -> Intl.DateTimeFormat

function keyOf(s) { return [s.election_id, s.race_id, s.state, s.mode].join("/"); }

function sideOf(party) { return partySides[String(party || "").toUpperCase()] || "other"; }

function placeOf(state) { return places[state] || { name: state, time_zone: "UTC" }; }

function timeFormat(zone, withYear) {
  const key = zone + "|" + withYear;
  if (!timeFormats.has(key)) {
    timeFormats.set(key, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, month: "short", day: "numeric", year: withYear ? "numeric" : undefined,
      hour: "numeric", minute: "2-digit", timeZoneName: "short" }));
  }
  return timeFormats.get(key);
}

// "Nov 5, 2024, 9:40 PM CST" in the state's zone (UTC, labelled, when it has none); "" for a
// time without an offset, which a browser would read in its own zone.
function timeIn(text, state, withYear) {
  if (!/^\d{4}-\d\d-\d\dT[^Z+]*(Z|[+-]\d\d:\d\d)$/i.test(String(text || ""))) return "";
  const at = new Date(text);
  if (isNaN(at)) return "";
  let zone = placeOf(state).time_zone;
  try { timeFormat(zone, withYear); } catch (e) { zone = "UTC"; } // a zone this browser lacks
  return timeFormat(zone, withYear).format(at).replace(/\u202f/g, " "); // ICU puts a narrow space before PM
}

// The candidate ids a `called` call names; none without a call, or with any other status.
function winnersOf(s) {
  const call = s.call;
  if (!call || call.status !== "called" || !Array.isArray(call.winners)) return new Set();
  return new Set(call.winners.filter((w) => typeof w === "string"));
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text; // never innerHTML: names come from feeds
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

function bar(percent) {
  const outer = el("div", "bar");
  const inner = el("span");
  inner.style.width = Math.max(0, Math.min(100, percent || 0)) + "%";
  outer.append(inner);
  return outer;
}

function candidateRow(c, winners) {
  const row = el("div", "candidate side-" + sideOf(c.party));
  const name = el("span", "name", c.name + (c.party ? " (" + c.party + ")" : ""));
  if (c.incumbent === true) name.append(" ", el("span", "incumbent", "incumbent"));
  if (winners.has(c.candidate_id)) {
    const mark = el("span", "call-mark", "✓");
    mark.title = "winner: race called";
    name.append(" ", mark);
  }
  row.append(name,
             el("span", "pct", Number(c.pct).toFixed(1) + "%"),
             el("span", "votes", numberFormat.format(c.votes) + " votes"), bar(c.pct));
  return row;
}

function countedPct(s) {
  const expected = s.pct_expected_counted !== null && s.pct_expected_counted !== undefined;
  return expected ? s.pct_expected_counted : s.pct_precincts_reporting;
}

// An expected vote that is the model's estimate says so, with its 90% range (the readout says "(est.)" too).
function countedLabel(s, pct) {
  const range = s.model_expected_range && s.model_expected_range["90"];
  if (s.expected_vote_source === "model" && range) {
    return "about " + Math.floor(pct) + "% counted (est.), expected "
      + roughFormat.format(range[0]) + "–" + roughFormat.format(range[1]);
  }
  const expected = s.pct_expected_counted !== null && s.pct_expected_counted !== undefined;
  return expected ? Math.floor(pct) + "% of expected vote counted" : Math.floor(pct || 0) + "% of precincts reporting";
}

function countedBlock(s) {
  const pct = countedPct(s);
  const label = countedLabel(s, pct);
  const block = el("div", "counted");
  block.append(el("span", "label", label), bar(pct));
  return block;
}

function title(s) {
  const h = el("h2");
  const name = el("span", "state", placeOf(s.state).name);
  if (s.mode === "test") name.append(" ", el("span", "badge", "TEST"));
  const office = s.office || s.race_id.replace(/[-_]/g, " ");
  h.append(name, el("span", "office", office + " · " + s.election_id));
  return h;
}

// What kind of race it is, as short tags under the title.
function tags(s) {
  const list = [];
  const call = s.call || {};
  if (call.status === "runoff" || /headed to a runoff$/.test(s.readout || "")) list.push(["runoff", "runoff"]);
  if (s.uncontested === true) list.push(["uncontested", "uncontested"]);
  if (s.seats > 1) list.push(["seats", "vote for " + s.seats]);
  if (!list.length) return null;
  const p = el("p", "tags");
  for (const [kind, text] of list) p.append(el("span", "tag tag-" + kind, text));
  return p;
}

// --- counties: shading, the map, the table -------------------------------------------------

// The leader's side and margin band, and a hatch while little is counted.
function shading(c) {
  const leader = c && (c.candidates || []).find((x) => x.candidate_id === c.leader);
  const margin = (c && c.margin_pct) || 0;
  const counted = c ? countedPct(c) || 0 : 0;
  return {
    side: leader ? sideOf(leader.party) : "none",
    band: margin < 5 ? 1 : margin < 10 ? 2 : margin < 20 ? 3 : 4,
    hatch: counted < 50 ? "dense" : counted < 90 ? "light" : "none",
    leader: leader || null,
  };
}

function leadText(c) {
  if (!c || !c.total_votes) return "no votes yet";
  const leader = (c.candidates || []).find((x) => x.candidate_id === c.leader);
  if (!leader) return "tied";
  return (leader.party || leader.name) + " +" + Number(c.margin_pct).toFixed(1);
}

function leadCell(c) {
  const cell = el("td", "lead");
  const shade = shading(c);
  cell.append(el("span", "swatch side-" + shade.side), leadText(c));
  return cell;
}

function countyName(view, fips) { return view.names.get(fips) || fips; }

function table(caption, headings) {
  const wrap = el("div", "table-wrap");
  wrap.tabIndex = 0; // a scrollable region must be reachable by keyboard
  const t = el("table");
  t.append(el("caption", "", caption));
  const row = el("tr");
  for (const h of headings) {
    const th = el("th", "", h);
    th.scope = "col";
    row.append(th);
  }
  const head = el("thead");
  head.append(row);
  const body = el("tbody");
  t.append(head, body);
  wrap.append(t);
  return { wrap, body };
}

function countyView(s) {
  const key = keyOf(s);
  let view = views.get(key);
  if (view) return view;
  const section = el("section", "counties");
  const figure = el("figure", "county-map");
  const note = el("p", "map-note", "Loading the county map…");
  figure.append(note);
  const details = el("details", "county-table");
  details.append(el("summary", "", "Every county as a table"));
  const all = table("Counties of " + placeOf(s.state).name + ": leader, margin and share counted",
                    ["County", "Leading", "Margin", "Counted"]);
  details.append(all.wrap);
  section.append(figure, details);
  view = { section, figure, note, body: all.body, rows: new Map(), shapes: new Map(), names: new Map() };
  views.set(key, view);
  loadMap(s.state).then((map) => drawMap(key, view, map, s.state));
  return view;
}

function loadMap(state) {
  if (!maps.has(state)) {
    maps.set(state, fetch("/v1/maps/" + encodeURIComponent(state))
      .then((r) => (r.ok ? r.json() : null)).catch(() => null));
  }
  return maps.get(state);
}

function drawMap(key, view, map, state) {
  if (!map) {
    view.note.textContent = "County map unavailable (the us-atlas county shapes are not installed: run make install). "
      + "The table below has every county.";
    view.figure.classList.add("missing");
    return;
  }
  const label = "Map of " + placeOf(state).name + " counties shaded by leading party and margin, hatched where less than 90% "
    + "is counted. The table below gives the same figures.";
  const image = svg("svg", { viewBox: map.view_box, role: "img", "aria-label": label });
  for (const county of map.counties) {
    view.names.set(county.fips, county.name);
    const group = svg("g");
    const shape = svg("path", { d: county.path, class: "county", "data-fips": county.fips });
    const hatch = svg("path", { d: county.path, class: "hatch", "aria-hidden": "true" });
    const tip = svg("title");
    group.append(shape, hatch, tip);
    image.append(group);
    view.shapes.set(county.fips, { shape, hatch, tip, name: county.name });
  }
  view.note.replaceWith(image, legend());
  for (const county of map.counties) updateCounty(key, county.fips);
  const held = snapshots.get(key);
  if (held) place(key, card(held)); // county names for "where the vote is left"
}

function legend() {
  const caption = el("figcaption", "legend");
  for (const [side, text] of [["dem", "Democratic lead"], ["rep", "Republican lead"], ["other", "other lead"],
                              ["none", "no votes or tied"]]) {
    const item = el("span", "item");
    item.append(el("span", "swatch side-" + side), text);
    caption.append(item);
  }
  const hatched = el("span", "item");
  hatched.append(el("span", "swatch hatched"), "hatched: under 90% counted (dense: under 50%)");
  caption.append(hatched, el("span", "item", "brighter: wider margin"));
  return caption;
}

function updateCounty(key, fips) {
  const view = views.get(key);
  if (!view) return;
  const c = (countySnapshots.get(key) || new Map()).get(fips);
  const shade = shading(c);
  const drawn = view.shapes.get(fips);
  if (drawn) {
    drawn.shape.setAttribute("class", "county side-" + shade.side + " band-" + shade.band);
    drawn.shape.dataset.side = shade.side;
    drawn.shape.dataset.leader = c && c.leader ? c.leader : "";
    drawn.hatch.setAttribute("class", "hatch hatch-" + shade.hatch);
    drawn.tip.textContent = drawn.name + ": " + leadText(c) + (c ? ", " + Math.floor(countedPct(c) || 0)
      + "% counted" : "");
  }
  if (!c && !drawn) return;
  let row = view.rows.get(fips);
  const cells = [el("th", "", countyName(view, fips)), leadCell(c),
                 el("td", "num", c ? numberFormat.format(c.margin_votes) : "—"),
                 el("td", "num", c ? Math.floor(countedPct(c) || 0) + "%" : "—")];
  cells[0].scope = "row";
  if (!row) {
    row = el("tr");
    row.dataset.fips = fips;
    view.rows.set(fips, row);
    const after = [...view.body.children].find((other) => other.firstChild.textContent > cells[0].textContent);
    view.body.insertBefore(row, after || null);
  }
  row.replaceChildren(...cells);
}

function voteLeft(s, view) {
  const rows = s.counties_outstanding || [];
  const section = el("section", "vote-left");
  section.append(el("h3", "", "Where the vote is left"));
  if (!rows.length) {
    section.append(el("p", "muted", s.certified ? "Certified: the count is final."
      : "No county estimates of the vote still out."));
    return section;
  }
  const modelled = rows.some((c) => c.expected_vote_source === "model");
  const t = table(modelled ? "Counties with the most vote still out, as the model estimates it (est.)"
                           : "Counties with the most expected vote still out",
                  ["County", modelled ? "Still out (est.)" : "Still out", "Leading so far", "Counted"]);
  for (const c of rows) {
    const name = el("th", "", countyName(view, c.county_fips));
    name.scope = "row";
    const row = el("tr");
    row.append(name, el("td", "num", numberFormat.format(c.votes_outstanding)),
               leadCell({ ...c, candidates: s.candidates }),
               el("td", "num", Math.floor(c.pct_expected_counted || 0) + "%"));
    t.body.append(row);
  }
  section.append(t.wrap);
  return section;
}

function card(s) {
  const article = el("article", "race");
  article.dataset.key = keyOf(s);
  article.append(title(s));
  const kinds = tags(s);
  if (kinds) article.append(kinds);
  const winners = winnersOf(s);
  const shown = Math.max(4, (s.seats || 1) + 1); // every seat and the first one out
  for (const c of (s.candidates || []).slice(0, shown)) article.append(candidateRow(c, winners));
  const readout = el("p", "readout", s.readout || "");
  readout.dataset.testid = "readout";
  article.append(countedBlock(s), readout);
  if (s.needs_readout) {
    const needs = el("p", "needs", s.needs_readout);
    needs.dataset.testid = "needs";
    article.append(needs);
  }
  const call = callLine(s, winners);
  if (call) article.append(call);
  if (s.call && s.call.status === "retracted") article.classList.add("retracted");
  const asOf = timeIn(s.as_of, s.state, true);
  if (asOf) article.append(el("p", "as-of", "as of " + asOf));
  const view = countyView(s);
  article.append(view.section, voteLeft(s, view));
  return article;
}

// "Called for Amy Klobuchar by AP · Nov 5, 2024, 8:00 PM CST", and each other state of a call in
// words: a retraction stands out (the card is marked too), a runoff names who advances.
function callLine(s, winners) {
  const call = s.call;
  if (!call || typeof call.status !== "string") return null;
  const named = (ids) => {
    const names = (s.candidates || []).filter((c) => ids.has(c.candidate_id)).map((c) => c.name);
    return (names.length ? names : [...ids]).join(" and ");
  };
  const by = typeof call.by === "string" && call.by ? " by " + call.by : "";
  const at = timeIn(call.at, s.state, true);
  const when = by + (at ? " · " + at : "");
  const advancing = new Set(Array.isArray(call.winners) ? call.winners.filter((w) => typeof w === "string") : []);
  const words = {
    called: winners.size ? "Called for " + named(winners) + when : "",
    runoff: "Runoff: " + named(advancing) + " advance" + when,
    retracted: "Call retracted" + when + ": no winner declared",
    too_close: "Too close to call" + when,
    too_early: "Too early to call" + when,
  }[call.status];
  if (!words) return null;
  const line = el("p", "call call-" + call.status, words);
  line.dataset.testid = "call";
  return line;
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

function showCounty(c) {
  const key = keyOf(c);
  if (!countySnapshots.has(key)) countySnapshots.set(key, new Map());
  const held = countySnapshots.get(key);
  const old = held.get(c.county_fips);
  if (old && old.version >= c.version) return;
  held.set(c.county_fips, c);
  updateCounty(key, c.county_fips);
}

function showAlert(a) {
  if (alertIds.has(a.alert_id)) return;
  alertIds.add(a.alert_id);
  const item = el("li", a.severity);
  const time = el("time", "", timeIn(a.at, a.state, false));
  time.dateTime = a.at || "";
  item.append(time, placeOf(a.state).name + ": " + a.message);
  alertsEl.prepend(item);
  while (alertsEl.children.length > MAX_ALERTS) alertsEl.lastElementChild.remove();
}

function setStatus(state, text) { statusEl.className = "status " + state; statusEl.textContent = text; }

function connect() {
  const source = new EventSource("/v1/stream?kinds=state,county,alert");
  source.addEventListener("state", (e) => showSnapshot(JSON.parse(e.data)));
  source.addEventListener("county", (e) => showCounty(JSON.parse(e.data)));
  source.addEventListener("alert", (e) => showAlert(JSON.parse(e.data)));
  source.addEventListener("sync", () => setStatus("live", "live"));
  source.addEventListener("open", () => setStatus("live", "live"));
  source.addEventListener("error", () => setStatus("reconnecting", "reconnecting…"));
}

// Without parties.json every party is neutral, without /v1/states states go by code and times
// by UTC: still readable and still true.
Promise.all([
  fetch("/static/parties.json").then((r) => r.json()).then((p) => { partySides = p.sides || {}; }).catch(() => {}),
  fetch("/v1/states").then((r) => r.json()).then((p) => { places = p.states || {}; }).catch(() => {}),
]).finally(connect);
