// The live program board: teams as rows, iterations as columns, stories as
// cards, dependencies as lines. Everything comes from the public GraphQL
// API; one `programEvents` subscription keeps it live and resumes from its
// last cursor after a dropped connection.
import { connect } from "/assets/live.js";

const params = new URLSearchParams(location.search);
const fragment = new URLSearchParams(location.hash.slice(1));
const programId = params.get("program");
const kiosk = params.get("kiosk") === "1";
const STORED = "portfolio.token";
let token = fragment.get("token") || localStorage.getItem(STORED);
let incrementId = params.get("increment");

const $ = (id) => document.getElementById(id);
const boardEl = $("board");
const linesEl = $("lines");
const wrap = $("board-wrap");
const wsUrl = new URL("/graphql/ws", location.href).href.replace(/^http/, "ws");

// What the page has applied, for the status line (and for tests).
const state = {
  cursor: null,
  lastSequence: 0,
  applied: [],
  lastUpdate: null,
  socket: null,
  hold: false,
  backoff: 500,
  refreshing: null,
  pending: [],
  lastApplyMs: null,
  loads: 0,
  stories: new Map(),
  // Milliseconds from navigation to each step of the first load
  // (benchmarks): script, program, board answered, board drawn, ready.
  marks: { script: performance.now() },
};
window.portfolioBoard = {
  state,
  /** Drops the live connection and keeps it down until `reconnect()`. */
  disconnect() {
    state.hold = true;
    if (state.socket) state.socket.close();
  },
  reconnect() {
    state.hold = false;
    if (!state.socket) startLive();
  },
};

// The program, and (for a person, not a wall screen) who is looking: one
// request before the board.
const START = (who) => `query($p: ID!) {
  ${who ? "viewer { id teams { id productOwner { id } } }" : ""}
  program(id: $p) { name lastEventCursor increments { id name startDate endDate } } }`;

// The board itself; the header is asked for beside it.
const BOARD = `query($p: ID!, $i: ID!) { program(id: $p) {
  board(incrementId: $i) {
    increment { id name startDate endDate }
    columns { title iteration { id number startDate endDate } }
    rows {
      team { id name objectives(incrementId: $i) { description plannedValue committed } }
      cells { capacity load overloaded iteration { id }
        stories { id title points state blocked feature { id title } } }
    }
    dependencies { id state atRisk riskReasons
      dependent { id title iteration { id } } provider { id title iteration { id } } }
  } } }`;

const COORDINATION = `query($p: ID!, $me: ID!) { program(id: $p) {
  dependencies(states: [REQUESTED], first: 100) { edges { node { id
    dependent { title team { name } } provider { title team { id name } } neededBy { number } } } }
  clarifications(statuses: [OPEN, ANSWERED], assigneeId: $me, first: 100) { edges { node {
    id question status answer blocking askedAt askedBy { name }
    subject { __typename ... on Story { title } ... on Feature { title } } } } } } }`;

const ACTIONS = {
  commit: `mutation($input: CommitDependencyInput!) { commitDependency(input: $input) { dependency { id state } } }`,
  decline: `mutation($input: DeclineDependencyInput!) { declineDependency(input: $input) { dependency { id state } } }`,
  answer: `mutation($input: AnswerClarificationInput!) { answerClarification(input: $input) { clarification { id status } } }`,
  resolve: `mutation($input: ResolveClarificationInput!) { resolveClarification(input: $input) { clarification { id status } } }`,
};

const EVENTS = `subscription($p: ID!, $a: String) {
  programEvents(programId: $p, after: $a) { event { sequence cursor kind subjectType subjectId } } }`;

// What the header shows: the counts and the oldest waits.
const HEADER = `query($p: ID!, $i: ID!) { program(id: $p) {
  oldestWaits(first: 3) { kind ageHours waitingOn { name }
    subject { __typename ... on Story { title } ... on Feature { title }
      ... on Clarification { question } ... on Dependency { provider { title } } } }
  metrics(incrementId: $i) {
    dependencies { atRisk }
    clarifications { overall { open oldestOpenAgeHours } }
  } } }`;

const STORIES = (n) => `query(${[...Array(n).keys()].map((k) => `$s${k}: ID!`).join(", ")}) {
  ${[...Array(n).keys()].map((k) => `s${k}: node(id: $s${k}) { ...card }`).join("\n  ")} }
  fragment card on Story { id title points state blocked feature { id title } team { id } iteration { id } }`;

// How each kind of event is applied: a story's own change patches its card
// in place; changes shown only in the header reload the header; anything
// else reloads the board.
const PATCHES = new Set(["STORY_UPDATED", "STORY_STATE_CHANGED"]);
const HEADER_ONLY = new Set([
  "WAIT_STARTED", "WAIT_ENDED", "WAIT_MOVED", "CLARIFICATION_ANSWERED",
  "CLARIFICATION_REASSIGNED", "CONFIDENCE_VOTED", "OBJECTIVE_SCORED",
  "TEAM_MEMBER_ADDED", "TEAM_MEMBER_REMOVED",
]);

const REASONS = {
  NOT_COMMITTED: "not committed, yet the dependent story is planned",
  PROVIDER_UNPLANNED: "the provider story is not planned",
  PROVIDER_LATE: "the provider story is planned too late",
  DECLINED: "the provider team declined",
};

class ApiError extends Error {}

async function gql(query, variables) {
  const res = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors && body.errors.length) {
    throw new ApiError(body.errors.map((e) => e.message).join("; "));
  }
  return body.data;
}

function say(text) {
  const el = $("message");
  el.textContent = text;
  el.hidden = !text;
}

function clock(date) {
  return date ? date.toLocaleTimeString() : "never";
}

function setStatus(kind) {
  const el = $("status");
  el.dataset.state = kind;
  const last = `last update ${clock(state.lastUpdate)}`;
  el.textContent = {
    connecting: "connecting…",
    live: `live · ${last}`,
    reconnecting: `reconnecting… ${last}`,
    failed: `not live: the token was refused · ${last}`,
  }[kind];
  // The header's height may change with it.
  fit();
}

function age(hours) {
  if (hours == null) return "–";
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${Math.round(hours / 24)} d`;
}

// A stable colour per feature.
function hue(id) {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child != null) node.append(child);
  }
  return node;
}

function chooseIncrement(increments) {
  const today = new Date().toISOString().slice(0, 10);
  const current = increments.find((i) => i.startDate <= today && today <= i.endDate);
  if (current) return current.id;
  const next = increments
    .filter((i) => i.startDate > today)
    .sort((a, b) => a.startDate.localeCompare(b.startDate))[0];
  if (next) return next.id;
  const last = [...increments].sort((a, b) => b.endDate.localeCompare(a.endDate))[0];
  return last ? last.id : null;
}

function fingerprint(story, teamId, iteration) {
  return `${story.title}|${story.points}|${story.state}|${story.blocked}|${teamId}|${iteration && iteration.id}`;
}

// The board is written as one HTML string: the browser's parser builds
// thousands of cards far faster than a createElement call per node.
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

// Each feature's colour is a class its cards share: one style rule per hue
// rather than a style of every card's own.
const featureSheet = document.head.appendChild(document.createElement("style")).sheet;
const hues = new Set();
function featureClass(feature) {
  if (!feature) return "f-none";
  const h = hue(feature.id);
  if (!hues.has(h)) {
    hues.add(h);
    featureSheet.insertRule(`.f${h} { --feature: hsl(${h} 65% 45%); }`);
  }
  return `f${h}`;
}

function cardTip(story) {
  return story.feature ? `${story.title}\nFeature: ${story.feature.title}` : story.title;
}

// What a card holds; the blocked badge only when the story is blocked.
function cardInner(story) {
  const points = story.points == null ? "–" : String(story.points);
  const state = story.state.replace("_", " ").toLowerCase();
  const blocked = story.blocked ? `<span class="blocked">blocked</span>` : "";
  return `<div class="title">${esc(story.title)}</div>` +
    `<div class="meta"><span class="points">${points}</span><span class="state">${state}</span>${blocked}</div>`;
}

function cardHtml(story) {
  const id = esc(story.id);
  return `<div class="card ${featureClass(story.feature)}" id="card-${id}" data-id="${id}" ` +
    `data-points="${story.points == null ? 0 : story.points}" title="${esc(cardTip(story))}">` +
    `${cardInner(story)}</div>`;
}

// Writes a story into its card. Cards have a fixed size and contain their
// layout, so a change inside one never lays out the rest of the board.
function fillCard(node, story) {
  node.className = `card ${featureClass(story.feature)}`;
  node.dataset.points = story.points == null ? "0" : String(story.points);
  node.title = cardTip(story);
  node.innerHTML = cardInner(story);
}

function flash(node) {
  node.animate([{ background: "#fff0b3" }, { background: "#fff" }], { duration: 1200, easing: "ease-out" });
}

function renderHeader(program) {
  const m = program.metrics;
  $("at-risk").textContent = String(m.dependencies.atRisk);
  $("open-questions").textContent = String(m.clarifications.overall.open);
  $("oldest-question").textContent = age(m.clarifications.overall.oldestOpenAgeHours);
  renderWaits(program.oldestWaits);
}

function render(data) {
  const b = data.program.board;
  $("increment").textContent = b.increment.name;

  const before = state.stories;
  const after = new Map();
  const changed = [];
  boardEl.style.gridTemplateColumns =
    `minmax(10rem, 14rem) repeat(${b.columns.length}, minmax(9rem, 1fr))`;
  const html = [`<div class="head">Team</div>`];
  for (const col of b.columns) {
    const it = col.iteration;
    const dates = it ? `<small>${esc(it.startDate)} – ${esc(it.endDate)}</small>` : "";
    html.push(`<div class="head column" data-iteration="${it ? esc(it.id) : ""}">${esc(col.title)}${dates}</div>`);
  }
  for (const row of b.rows) {
    const team = row.team;
    const objectives = team.objectives.map((o) =>
      `<li${o.committed ? "" : ` class="stretch"`}>${esc(o.description)} (${esc(o.plannedValue)})</li>`);
    html.push(`<div class="team" data-team="${esc(team.id)}"><h2>${esc(team.name)}</h2>` +
      `<ul class="objectives">${objectives.join("")}</ul></div>`);
    for (const cell of row.cells) {
      const capacity = cell.capacity == null ? "" : ` / ${cell.capacity}`;
      const load = cell.iteration ? `${cell.load}${capacity} pts` : `${cell.load} pts`;
      html.push(`<div class="${cell.overloaded ? "cell overloaded" : "cell"}" data-team="${esc(team.id)}" ` +
        `data-iteration="${cell.iteration ? esc(cell.iteration.id) : ""}" ` +
        `data-capacity="${cell.capacity == null ? "" : cell.capacity}"><div class="load">${load}</div>`);
      for (const story of cell.stories) {
        html.push(cardHtml(story));
        const seen = fingerprint(story, team.id, cell.iteration);
        after.set(story.id, seen);
        if (before.size && before.get(story.id) !== seen) changed.push(story.id);
      }
      html.push("</div>");
    }
  }
  boardEl.innerHTML = html.join("");
  state.marks.built ??= performance.now();
  for (const id of changed) flash(document.getElementById(`card-${id}`));
  state.stories = after;
  state.dependencies = b.dependencies;
  drawLines();
  fit();
}

const WAITING_FOR = {
  ANSWER: (who) => `an answer from ${who}`,
  RESOLUTION: (who) => `${who} to resolve an answer`,
  ACCEPTANCE: (who) => `acceptance by ${who}`,
  DECISION: (who) => `a decision by ${who}`,
  BREAKDOWN: (who) => `a breakdown by ${who}`,
};

function subjectText(subject) {
  if (!subject) return "";
  if (subject.__typename === "Clarification") return subject.question;
  if (subject.__typename === "Dependency") return subject.provider.title;
  return subject.title;
}

// The three oldest waits of the program, whoever they wait on.
function renderWaits(waits) {
  $("waits").replaceChildren(
    ...waits.map((w) => {
      const what = (WAITING_FOR[w.kind] || ((who) => who))(w.waitingOn.name);
      return el("li", {}, el("b", {}, age(w.ageHours)), ` ${what}: ${subjectText(w.subject)}`);
    }),
  );
}

function anchor(node, side) {
  return {
    x: node.offsetLeft + (side === "right" ? node.offsetWidth : 0),
    y: node.offsetTop + node.offsetHeight / 2,
  };
}

// The lines, as one SVG string. Their text is an attribute that a hover or a
// tap shows, not a `<title>` element of each.
function drawLines() {
  const deps = state.dependencies || [];
  linesEl.style.left = `${boardEl.offsetLeft}px`;
  linesEl.style.top = `${boardEl.offsetTop}px`;
  linesEl.setAttribute("width", boardEl.scrollWidth);
  linesEl.setAttribute("height", boardEl.scrollHeight);
  state.marks.laid ??= performance.now();
  const paths = [];
  for (const d of deps) {
    const from = document.getElementById(`card-${d.provider.id}`);
    const to = document.getElementById(`card-${d.dependent.id}`);
    if (!from && !to) continue;
    const pi = d.provider.iteration && d.provider.iteration.id;
    const di = d.dependent.iteration && d.dependent.iteration.id;
    const kind = d.atRisk ? "risk" : pi && pi === di ? "same" : "ok";
    let path;
    if (from && to) {
      const a = anchor(from, "right");
      const b = anchor(to, "left");
      const bend = Math.max(40, Math.abs(b.x - a.x) / 3);
      path = `M${a.x},${a.y} C${a.x + bend},${a.y} ${b.x - bend},${b.y} ${b.x},${b.y}`;
    } else {
      // The other end is outside this increment: a dashed stub.
      const a = from ? anchor(from, "right") : anchor(to, "left");
      const dx = from ? 50 : -50;
      path = `M${a.x},${a.y} L${a.x + dx},${a.y - 25}`;
    }
    const reasons = d.riskReasons.map((r) => REASONS[r] || r);
    const text = `${d.provider.title} → ${d.dependent.title}: ${d.state.toLowerCase()}` +
      (reasons.length ? `; at risk: ${reasons.join(", ")}` : "");
    paths.push(`<path d="${path}" class="${from && to ? kind : `${kind} outside`}" ` +
      `data-dependency="${esc(d.id)}" data-reasons="${esc(text)}"></path>`);
  }
  linesEl.innerHTML = paths.join("");
}

// Hovering over a line, or tapping it, shows its state and reasons.
let tipTimer = null;
function showTip(event) {
  const target = event.target;
  if (!(target instanceof SVGPathElement)) return;
  const tip = $("tip");
  tip.textContent = target.dataset.reasons;
  tip.style.left = `${event.clientX + 8}px`;
  tip.style.top = `${event.clientY + 8}px`;
  tip.hidden = false;
  clearTimeout(tipTimer);
  tipTimer = setTimeout(() => { tip.hidden = true; }, 4000);
}
linesEl.addEventListener("click", showTip);
linesEl.addEventListener("mouseover", showTip);
linesEl.addEventListener("mouseout", () => { $("tip").hidden = true; });

// The wall screen: shrink the board to fit the screen.
function fit() {
  if (!kiosk) return;
  wrap.style.transform = "none";
  // The board's own size plus the frame's padding, unscaled.
  const width = boardEl.scrollWidth + 2 * boardEl.offsetLeft;
  const height = boardEl.scrollHeight + 2 * boardEl.offsetTop;
  const room = window.innerHeight - $("top").offsetHeight;
  const scale = Math.min(1, window.innerWidth / width, room / height);
  wrap.style.transform = `scale(${scale})`;
}

window.addEventListener("resize", () => {
  drawLines();
  fit();
});

// The coordination view of a signed-in PO or PM: what is asked of their
// teams, and the questions assigned to them, each with its actions.
function renderCoordination(data) {
  // What is being typed survives a refresh, and so does the focus.
  const panel = $("coordination");
  const key = (form, input) => `${form.dataset.action}:${form.dataset.id}:${input.name}`;
  const kept = new Map();
  let focused = null;
  for (const form of panel.querySelectorAll("form")) {
    for (const input of form.elements) {
      if (!input.name) continue;
      kept.set(key(form, input), input.value);
      if (input === document.activeElement) focused = key(form, input);
    }
  }
  fillCoordination(data);
  for (const form of panel.querySelectorAll("form")) {
    for (const input of form.elements) {
      if (!input.name || !kept.has(key(form, input))) continue;
      input.value = kept.get(key(form, input));
      if (key(form, input) === focused) input.focus();
    }
  }
}

function fillCoordination(data) {
  const asked = data.program.dependencies.edges
    .map((e) => e.node)
    .filter((d) => state.me.owns.has(d.provider.team.id));
  const inbox = data.program.clarifications.edges.map((e) => e.node);
  $("asked-count").textContent = `(${asked.length})`;
  $("inbox-count").textContent = `(${inbox.length})`;
  const iterations = (state.columns || []).filter((c) => c.iteration);
  $("asked").replaceChildren(
    ...asked.map((d) => {
      const choose = el("select", { name: "iteration", "aria-label": "iteration" });
      for (const c of iterations) choose.append(el("option", { value: c.iteration.id }, c.title));
      const commit = el("form", { "data-action": "commit", "data-id": d.id },
        choose, el("button", { type: "submit" }, "Commit"));
      const decline = el("form", { "data-action": "decline", "data-id": d.id },
        el("input", { name: "reason", placeholder: "Why not", "aria-label": "reason" }),
        el("button", { type: "submit" }, "Decline"));
      const needed = d.neededBy ? ` by iteration ${d.neededBy.number}` : "";
      return el("li", { "data-dependency": d.id },
        el("div", { class: "what" },
          `${d.dependent.team.name} needs “${d.provider.title}” (${d.provider.team.name})${needed} `,
          el("span", { class: "muted" }, `for “${d.dependent.title}”`)),
        commit, decline);
    }),
  );
  $("inbox").replaceChildren(
    ...inbox.map((c) => {
      const about = c.subject ? `${c.subject.__typename} “${c.subject.title}”` : "";
      const who = c.askedBy ? c.askedBy.name : "an administrator";
      const item = el("li", { "data-clarification": c.id },
        el("div", { class: "what" }, c.question, " ",
          el("span", { class: "muted" }, `on ${about}, from ${who}${c.blocking ? ", blocking" : ""}`)));
      if (c.status === "OPEN") {
        item.append(el("form", { "data-action": "answer", "data-id": c.id },
          el("textarea", { name: "answer", placeholder: "Your answer", "aria-label": "answer" }),
          el("button", { type: "submit" }, "Answer")));
      } else {
        item.append(el("div", { class: "muted" }, `Answered: ${c.answer || ""}`),
          el("form", { "data-action": "resolve", "data-id": c.id },
            el("button", { type: "submit" }, "Resolve")));
      }
      return item;
    }),
  );
}

async function loadCoordination() {
  if (!state.me) return;
  renderCoordination(await gql(COORDINATION, { p: programId, me: state.me.id }));
}

$("coordination").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const id = form.dataset.id;
  const field = (name) => form.elements[name] && form.elements[name].value.trim();
  const input = {
    commit: () => ({ dependencyId: id, iterationId: field("iteration") }),
    decline: () => ({ dependencyId: id, reason: field("reason") }),
    answer: () => ({ clarificationId: id, answer: field("answer") }),
    resolve: () => ({ clarificationId: id }),
  }[form.dataset.action]();
  const result = $("coordination-result");
  for (const b of form.querySelectorAll("button")) b.disabled = true;
  try {
    await gql(ACTIONS[form.dataset.action], { input });
    result.className = "result";
    result.textContent = `Done: ${form.dataset.action}.`;
    await loadCoordination();
  } catch (err) {
    result.className = "result failed";
    result.textContent = err.message;
    for (const b of form.querySelectorAll("button")) b.disabled = false;
  }
});

async function loadBoard() {
  // The coordination view is asked for alongside the board, and shown
  // after it (its commit forms list the board's iterations).
  // So is the header: the server answers the three at once.
  const settle = (promise) => promise.then((d) => ({ d }), (e) => ({ e }));
  const coordination = state.me
    ? settle(gql(COORDINATION, { p: programId, me: state.me.id }))
    : null;
  const header = settle(gql(HEADER, { p: programId, i: incrementId }));
  const data = await gql(BOARD, { p: programId, i: incrementId });
  state.marks.board ??= performance.now();
  state.loads += 1;
  state.columns = data.program.board.columns;
  state.lastUpdate = new Date();
  render(data);
  state.marks.drawn ??= performance.now();
  const counts = await header;
  if (counts.e) throw counts.e;
  renderHeader(counts.d.program);
  if (coordination) {
    const { d, e } = await coordination;
    if (e) throw e;
    renderCoordination(d);
  }
  document.body.dataset.sequence = String(state.lastSequence);
}

async function loadHeader() {
  renderHeader((await gql(HEADER, { p: programId, i: incrementId })).program);
  await loadCoordination();
}

// A cell's load and capacity from the cards it holds.
function retotal(cell) {
  const load = [...cell.querySelectorAll(".card")]
    .reduce((sum, c) => sum + Number(c.dataset.points || 0), 0);
  const capacity = cell.dataset.capacity;
  cell.classList.toggle("overloaded", capacity !== "" && load > Number(capacity));
  const of = capacity === "" ? "" : ` / ${capacity}`;
  cell.querySelector(".load").textContent = cell.dataset.iteration ? `${load}${of} pts` : `${load} pts`;
}

// Patches the cards of these stories in place; false when one of them
// moved to another cell (or onto or off the board): then the board reloads.
async function patchStories(ids) {
  if (!ids.length) return true;
  const vars = Object.fromEntries(ids.map((id, k) => [`s${k}`, id]));
  const data = await gql(STORIES(ids.length), vars);
  const updates = [];
  for (const story of Object.values(data)) {
    const old = story && document.getElementById(`card-${story.id}`);
    if (!old) return false;
    const cell = old.parentElement;
    const iteration = story.iteration ? story.iteration.id : "";
    if (cell.dataset.team !== story.team.id || cell.dataset.iteration !== iteration) return false;
    updates.push([story, old, cell]);
  }
  // In place: the cards keep their size, so the lines stay where they are.
  for (const [story, node, cell] of updates) {
    fillCard(node, story);
    flash(node);
    state.stories.set(story.id, fingerprint(story, story.team.id, story.iteration));
    retotal(cell);
  }
  return true;
}

// Applies one batch of events (those of one change arrive together).
async function apply(batch) {
  const started = batch[0].at;
  const full = batch.some((e) => !PATCHES.has(e.kind) && !HEADER_ONLY.has(e.kind));
  const stories = [...new Set(batch.filter((e) => PATCHES.has(e.kind)).map((e) => e.subjectId))];
  if (full || !(await patchStories(stories))) {
    await loadBoard();
    state.lastApplyMs = performance.now() - started;
    return;
  }
  state.lastApplyMs = performance.now() - started;
  if (batch.some((e) => HEADER_ONLY.has(e.kind))) await loadHeader();
}

// Applies what arrived, one batch at a time, until nothing is pending.
function process() {
  if (state.refreshing) return;
  state.refreshing = (async () => {
    try {
      while (state.pending.length) await apply(state.pending.splice(0));
    } catch (err) {
      say(`The board could not be updated: ${err.message}`);
    } finally {
      state.refreshing = null;
    }
  })();
}

function onEvent(payload) {
  if (payload.errors && payload.errors.length) {
    const resume = payload.errors[0].extensions && payload.errors[0].extensions.resumeAfter;
    if (resume) state.cursor = resume;
    return;
  }
  const event = payload.data && payload.data.programEvents && payload.data.programEvents.event;
  // After a reconnect the server replays from the cursor: apply each once.
  if (!event || event.sequence <= state.lastSequence) return;
  state.lastSequence = event.sequence;
  state.cursor = event.cursor;
  state.applied.push(event.sequence);
  state.lastUpdate = new Date();
  setStatus("live");
  state.pending.push({ kind: event.kind, subjectId: event.subjectId, at: performance.now() });
  process();
}

function startLive() {
  if (state.socket || state.hold) return;
  setStatus(state.lastUpdate ? "reconnecting" : "connecting");
  state.socket = connect(wsUrl, `Bearer ${token}`, {
    onReady(conn) {
      state.backoff = 500;
      setStatus("live");
      const variables = { p: programId, a: state.cursor };
      conn.subscribe("events", { query: EVENTS, variables }, {
        next: onEvent,
        error: () => conn.close(),
        complete: () => conn.close(),
      });
    },
    onClose(_reason, code) {
      state.socket = null;
      if (code === 4401 || code === 4403) {
        setStatus("failed");
        return;
      }
      setStatus("reconnecting");
      if (state.hold) return;
      setTimeout(startLive, state.backoff);
      state.backoff = Math.min(state.backoff * 2, 5000);
    },
  });
}

async function start() {
  if (kiosk) document.body.classList.add("kiosk");
  if (!programId) {
    say("Add ?program=<program id> to the address.");
    return;
  }
  if (!token) {
    if (kiosk) {
      say("This wall screen needs a board token: add #token=<token> to the address.");
      return;
    }
    const form = $("sign-in");
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      token = $("token-input").value.trim();
      if (!token) return;
      localStorage.setItem(STORED, token);
      form.hidden = true;
      start();
    });
    return;
  }
  try {
    // The cursor is read before the board, so nothing after it is missed.
    const first = await gql(START(!kiosk), { p: programId });
    state.marks.program = performance.now();
    state.cursor = first.program.lastEventCursor;
    $("program").textContent = first.program.name;
    document.title = `${first.program.name} · board`;
    incrementId = incrementId || chooseIncrement(first.program.increments);
    // A person (not a board token) gets the coordination view.
    if (first.viewer) {
      const me = first.viewer;
      const owns = me.teams.filter((t) => t.productOwner.id === me.id);
      state.me = { id: me.id, owns: new Set(owns.map((t) => t.id)) };
      $("coordination").hidden = false;
    }
    if (!incrementId) {
      say("This program has no increment yet.");
      return;
    }
    await loadBoard();
    // Milliseconds from navigation to the first full board (benchmarks).
    state.readyMs = performance.now();
    state.marks.ready = state.readyMs;
    document.body.dataset.ready = "1";
    startLive();
  } catch (err) {
    say(err instanceof ApiError ? err.message : `The board could not load: ${err.message}`);
  }
}

start();
