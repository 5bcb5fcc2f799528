// The inbox page. Every value that comes from a message reaches the document through
// textContent or an attribute set with setAttribute on a known-safe name, never as HTML; the
// message's own HTML is shown only in a sandboxed iframe the server serves with a strict CSP.
"use strict";

const state = {
  csrf: null, user: null, mailbox: "", q: "", offset: 0, limit: 50, total: 0,
  messages: [], selected: null, detail: null, tab: "text", remote: false,
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(path, options = {}) {
  const opts = { credentials: "same-origin", ...options, headers: { ...(options.headers || {}) } };
  if (opts.method && opts.method !== "GET") opts.headers["X-CSRF-Token"] = state.csrf || "";
  if (opts.json !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.json);
  }
  const r = await fetch(path, opts);
  if (r.status === 401) { location.href = "/login"; throw new Error("log in first"); }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
  return data;
}

// An id is "<mailbox>/<key>": each half its own path segment.
function messagePath(id, suffix = "") {
  const slash = id.indexOf("/");
  return `/api/v1/messages/${encodeURIComponent(id.slice(0, slash))}/${encodeURIComponent(id.slice(slash + 1))}${suffix}`;
}

function formatDate(ts) {
  if (ts === null || ts === undefined) return "";
  const d = new Date(ts * 1000);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString();
}

function formatFull(ts) {
  return ts === null || ts === undefined ? "" : new Date(ts * 1000).toLocaleString();
}

function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} kB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

// As mailprims.trace.format_delay: "41 s", "2 min 5 s", "1 h 3 min", "-41 s".
function formatDelay(s) {
  if (s === null || s === undefined) return "";
  const sign = s < 0 ? "-" : "";
  s = Math.abs(Math.round(s));
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  let parts;
  if (d) parts = h ? [`${d} d`, `${h} h`] : [`${d} d`];
  else if (h) parts = m ? [`${h} h`, `${m} min`] : [`${h} h`];
  else if (m) parts = sec ? [`${m} min`, `${sec} s`] : [`${m} min`];
  else parts = [`${sec} s`];
  return sign + parts.join(" ");
}

// ---- mailboxes ------------------------------------------------------------------------------

async function loadMailboxes() {
  const data = await api("/api/v1/mailboxes");
  const ul = $("#mailboxes ul");
  ul.replaceChildren();
  const all = data.mailboxes.reduce((a, m) => ({ total: a.total + m.total, unread: a.unread + m.unread }), { total: 0, unread: 0 });
  const item = (name, label, counts) => {
    const li = el("li", { class: state.mailbox === name ? "current" : "", "data-mailbox": name,
      onclick: () => { state.mailbox = name; state.offset = 0; loadMailboxes(); loadList(); } },
      el("span", { text: label }),
      el("span", { class: "count", text: counts.unread ? `${counts.unread} / ${counts.total}` : `${counts.total}` }));
    ul.append(li);
  };
  if (!state.user) item("", "All mail", all);
  for (const m of data.mailboxes) item(m.name, m.name, m);
}

// ---- the list --------------------------------------------------------------------------------

function listQuery() {
  const p = new URLSearchParams({ offset: state.offset, limit: state.limit });
  if (state.q) p.set("q", state.q);
  if (state.mailbox) p.set("mailbox", state.mailbox);
  return p;
}

async function loadList() {
  const data = await api(`/api/v1/messages?${listQuery()}`);
  state.messages = data.messages;
  state.total = data.total;
  renderList();
}

function row(m) {
  const subject = el("td", { class: "subject" });
  if (m.has_attachments) subject.append(el("span", { class: "clip", title: "has attachments" }));
  subject.append(el("span", { class: "text", text: m.subject || "(no subject)" }));
  if (m.snippet) subject.append(el("span", { class: "snippet", text: m.snippet }));
  return el("tr", {
      "data-id": m.id,
      class: [m.seen ? "" : "unread", m.id === state.selected ? "selected" : ""].join(" ").trim(),
      onclick: () => openMessage(m.id),
    },
    el("td", { class: "from", text: m.from, title: m.from }),
    el("td", { class: "to", text: m.to, title: m.to }),
    subject,
    el("td", { class: "date", text: formatDate(m.date ?? m.received), title: formatFull(m.date ?? m.received) }),
    el("td", { class: "size", text: formatSize(m.size) }));
}

function renderList() {
  const tbody = $("#list tbody");
  tbody.replaceChildren(...state.messages.map(row));
  $("#empty").hidden = state.messages.length > 0;
  const first = state.total ? state.offset + 1 : 0;
  const last = state.offset + state.messages.length;
  $("#range").textContent = `${first.toLocaleString()}–${last.toLocaleString()} of ${state.total.toLocaleString()}`;
  $("#newer").disabled = state.offset === 0;
  $("#older").disabled = last >= state.total;
}

// Does a message from the live stream belong in the list as shown now?
function belongsHere(m) {
  return state.offset === 0 && !state.q && (!state.mailbox || state.mailbox === m.mailbox);
}

// ---- one message ----------------------------------------------------------------------------

async function openMessage(id) {
  state.selected = id;
  state.remote = false;
  for (const tr of document.querySelectorAll("#list tbody tr")) tr.classList.toggle("selected", tr.dataset.id === id);
  const d = await api(messagePath(id));
  state.detail = d;
  if (!d.seen) {
    api(messagePath(id, "/flags"), { method: "POST", json: { seen: true } }).catch(() => {});
  }
  renderMessage();
}

function addressText(list) {
  return list.map((a) => a.label).join(", ");
}

function renderMessage() {
  const d = state.detail;
  $("#view").hidden = false;
  $("#view-subject").textContent = d.subject || "(no subject)";
  const meta = $("#view-meta");
  meta.replaceChildren();
  const add = (k, v) => { if (v) meta.append(el("dt", { text: k }), el("dd", { text: v })); };
  add("From", addressText(d.from));
  add("To", addressText(d.to));
  add("Cc", addressText(d.cc));
  add("Date", formatFull(d.date));
  add("Received", formatFull(d.received));
  add("Mailbox", d.mailbox);
  add("Size", formatSize(d.size));
  const atts = $("#attachments");
  atts.replaceChildren(...d.attachments.map((a) => el("li", { class: "attachment" },
    el("a", { href: messagePath(d.id, `/parts/${a.part}`), download: a.filename || `part-${a.part}`,
      text: `${a.filename || a.type} (${formatSize(a.size)})` }))));
  $("#download-raw").setAttribute("href", messagePath(d.id, "/raw?download=1"));
  const tabs = [["text", "Text"], ["html", "HTML"], ["headers", "Headers"], ["trace", `Trace (${d.trace.hops.length})`],
    ["mime", "MIME"], ["auth", `Authentication (${d.authentication_results.length})`], ["raw", "Raw"]];
  if (!d.has_html && state.tab === "html") state.tab = "text";
  if (d.text === null && d.has_html && state.tab === "text") state.tab = "html";
  $(".tabs").replaceChildren(...tabs.map(([k, label]) => el("button", {
    type: "button", id: `tab-${k}`, class: state.tab === k ? "current" : "", role: "tab",
    disabled: k === "html" && !d.has_html, onclick: () => { state.tab = k; renderMessage(); } }, label)));
  renderPane();
}

function table(headings, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => c instanceof Node ? el("td", {}, c) : el("td", { text: c ?? "" }))))));
}

function mimeTree(p) {
  const label = [p.type, p.filename ? `“${p.filename}”` : null, p.size !== null ? formatSize(p.size) : null,
    p.disposition, p.encoding].filter(Boolean).join(" · ");
  const li = el("li", {}, p.size !== null && !p.children.length
    ? el("a", { href: messagePath(state.detail.id, `/parts/${p.part}`), download: p.filename || `part-${p.part}`, text: label })
    : label);
  const kids = p.children.map(mimeTree);
  if (p.message) kids.push(mimeTree(p.message));
  if (kids.length) li.append(el("ul", {}, ...kids));
  return li;
}

async function renderPane() {
  const d = state.detail;
  const pane = $("#pane");
  pane.replaceChildren();
  switch (state.tab) {
    case "text":
      pane.append(el("pre", { id: "text-body", text: d.text ?? "(no text part)" }));
      if (d.text_truncated) pane.append(el("p", { class: "note", text: "The text is cut at 1 MB: see the raw source." }));
      break;
    case "html": {
      const button = el("button", { type: "button", id: "remote-images",
        onclick: () => { state.remote = !state.remote; renderPane(); } },
        state.remote ? "Block remote images" : "Load remote images");
      pane.append(el("p", { class: "note" }, "Shown without scripts; remote content is blocked unless you allow it. ", button));
      // No allow-scripts, no allow-same-origin: the message's HTML cannot run code or reach this page.
      pane.append(el("iframe", { id: "html-frame", title: "HTML preview",
        sandbox: "allow-popups allow-popups-to-escape-sandbox", referrerpolicy: "no-referrer",
        src: messagePath(d.id, state.remote ? "/html?remote=1" : "/html") }));
      break;
    }
    case "headers":
      pane.append(table(["Field", "Value"], d.headers));
      break;
    case "trace": {
      const t = d.trace;
      const rows = t.hops.map((h) => {
        const delay = el("span", { class: h.delay_seconds < 0 ? "skew" : "",
          text: formatDelay(h.delay_seconds) + (h.delay_seconds < 0 ? " (clock skew)" : "") });
        // As mailprims.trace.Hop.sender: "name (rdns [ip])", the address literal once.
        const seen = [h.from_rdns, h.from_ip ? `[${h.from_ip}]` : null]
          .filter((x) => x && x.toLowerCase() !== (h.from || "").toLowerCase());
        const from = seen.length ? (h.from ? `${h.from} (${seen.join(" ")})` : seen.join(" ")) : (h.from || "");
        return [String(h.hop), delay, from, h.by, h.protocol, h.tls ? (h.tls_version || "yes") : "", formatFull(h.date)];
      });
      pane.append(table(["Hop", "Delay", "From", "By", "With", "TLS", "Time"], rows));
      const notes = [];
      if (t.transit_seconds !== null) notes.push(`transit ${formatDelay(t.transit_seconds)}`);
      if (t.delivered_after_seconds !== null) notes.push(`delivered ${formatDelay(t.delivered_after_seconds)} after its Date`);
      pane.append(el("p", { class: "note", text: `${t.hops.length} hop(s)${notes.length ? ", " + notes.join(", ") : ""}` }));
      break;
    }
    case "mime":
      pane.append(el("ul", { class: "mime" }, mimeTree(d.parts)));
      if (d.defects.length) pane.append(el("p", { class: "note", text: `Defects: ${d.defects.join("; ")}` }));
      break;
    case "auth": {
      if (!d.authentication_results.length) { pane.append(el("p", { class: "note", text: "No Authentication-Results fields." })); break; }
      const rows = [];
      for (const f of d.authentication_results) {
        for (const r of f.results) {
          rows.push([f.authserv_id || "", r.method, el("span", { class: r.result, text: r.result }),
            r.properties.map((p) => `${p.ptype ? p.ptype + "." : ""}${p.name}=${p.value}`).join(" "),
            [r.reason, ...r.comments].filter(Boolean).join("; ")]);
        }
      }
      pane.append(table(["Evaluated by", "Method", "Result", "Properties", "Notes"], rows));
      break;
    }
    case "raw": {
      const pre = el("pre", { id: "raw-source", text: "Loading…" });
      pane.append(pre);
      const r = await fetch(messagePath(d.id, "/raw"), { credentials: "same-origin" });
      pre.textContent = await r.text();
      break;
    }
  }
}

// ---- actions --------------------------------------------------------------------------------

async function deleteSelected() {
  const id = state.selected;
  if (!id) return;
  await api(messagePath(id), { method: "DELETE" });
  state.selected = null;
  $("#view").hidden = true;
  await Promise.all([loadList(), loadMailboxes()]);
}

async function markUnread() {
  if (!state.selected) return;
  await api(messagePath(state.selected, "/flags"), { method: "POST", json: { seen: false } });
}

function buildQuery(form) {
  const parts = [];
  const quote = (v) => (/\s/.test(v) ? `"${v}"` : v);
  const text = form.elements.q.value.trim();
  if (text) parts.push(text);
  for (const f of ["from", "to", "subject", "text", "after", "before"]) {
    const v = form.elements[f].value.trim();
    if (v) parts.push(`${f}:${quote(v)}`);
  }
  if (form.elements.attachment.checked) parts.push("has:attachment");
  if (form.elements.unread.checked) parts.push("is:unread");
  return parts.join(" ");
}

// ---- live updates ---------------------------------------------------------------------------

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { loadList(); loadMailboxes(); }, 150);
}

function connectEvents() {
  const source = new EventSource("/api/v1/events");
  const live = $("#live");
  source.onopen = () => live.classList.add("on");
  source.onerror = () => live.classList.remove("on");
  source.addEventListener("added", (ev) => {
    const m = JSON.parse(ev.data);
    if (state.messages.some((x) => x.id === m.id)) return;
    if (belongsHere(m)) {
      state.messages.unshift(m);
      if (state.messages.length > state.limit) state.messages.pop();
      state.total += 1;
      renderList();
      refreshMailboxesSoon();
    } else {
      refreshSoon();
    }
  });
  source.addEventListener("changed", (ev) => {
    const m = JSON.parse(ev.data);
    const i = state.messages.findIndex((x) => x.id === m.id);
    if (i >= 0) { state.messages[i] = m; renderList(); }
    refreshMailboxesSoon();
  });
  source.addEventListener("removed", () => refreshSoon());
  source.addEventListener("reset", () => refreshSoon());
}

let countsTimer = null;
function refreshMailboxesSoon() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(loadMailboxes, 100);
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  const s = await api("/api/v1/session");
  if (!s.authenticated) { location.href = "/login"; return; }
  state.csrf = s.csrf_token;
  state.user = s.user;
  if (s.user) {
    $("#user").textContent = s.user;
    state.mailbox = s.user;
    $("#logout").hidden = false;
  }
  $("#logout").addEventListener("click", async () => {
    await api("/api/v1/logout", { method: "POST" });
    location.href = "/login";
  });
  $("#search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.q = buildQuery(ev.target);
    state.offset = 0;
    loadList();
  });
  $("#clear-search").addEventListener("click", () => {
    $("#search-form").reset();
    state.q = "";
    state.offset = 0;
    loadList();
  });
  $("#newer").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadList(); });
  $("#older").addEventListener("click", () => { state.offset += state.limit; loadList(); });
  $("#delete").addEventListener("click", deleteSelected);
  $("#mark-unread").addEventListener("click", markUnread);
  connectEvents();
  await Promise.all([loadMailboxes(), loadList()]);
  document.body.dataset.ready = "1";
}

start().catch((e) => { $("#empty").hidden = false; $("#empty").textContent = `Error: ${e.message}`; });
