// SPDX-License-Identifier: ISC
// tern capture's page (issue 22): the list of captured messages, newest
// first, and one message opened (hash #ID). New mail shows up without a
// reload: one request to /api/wait is always outstanding, and the server
// answers it the moment a message is stored (docs/capture.md).
//
// Trust: every string from the server comes from a stranger's message.
// It goes into the page as text (textContent) or as an attribute value
// the browser does not run, never as HTML. The message's own HTML is
// loaded only into <iframe sandbox> (no script, no same origin) from
// /api/messages/ID/html, which the server sends with a CSP that forbids
// script and every remote load.
"use strict";

const WAIT_SECONDS = 25;
const LIST_LIMIT = 500;
const RAW_SHOW_MAX = 2 * 1024 * 1024; // larger: a link, not shown inline
const RETRY_MAX_MS = 10000;
const TABS = ["html", "text", "parts", "headers", "raw"];

const state = {
	messages: [],
	since: "0",       // the newest id seen: /api/wait asks for newer
	selected: null,   // the id shown, or null
	detail: null,     // the detail object of the id shown
	tab: "html",      // the tab the user chose last
	rawFor: null,     // the id whose source is in #raw
	waiter: null,     // AbortController of the wait loop
};

function $(id) {
	return document.getElementById(id);
}

function el(tag, text, cls) {
	const e = document.createElement(tag);
	if (text !== undefined && text !== null) e.textContent = String(text);
	if (cls) e.className = cls;
	return e;
}

function status(text, isError) {
	const s = $("status");
	// A live region: the same words again are not news.
	if (s.textContent !== text) s.textContent = text;
	s.classList.toggle("error", !!isError);
}

// Ids are decimal strings chosen by the server; compare them as numbers
// without the float rounding of Number() on huge ones.
function isNewer(a, b) {
	return a.length !== b.length ? a.length > b.length : a > b;
}

function bump(id) {
	if (typeof id === "string" && /^[0-9]+$/.test(id) &&
	    isNewer(id, state.since))
		state.since = id;
}

function msgUrl(id, tail) {
	return "/api/messages/" + encodeURIComponent(id) + (tail || "");
}

function size(n) {
	if (!(n >= 0)) return "";
	if (n < 1024) return n + " B";
	if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
	return (n / 1024 / 1024).toFixed(1) + " MiB";
}

function pad(n) {
	return String(n).padStart(2, "0");
}

// Local time; the date too unless it is today (or asked for).
function when(iso, withDate) {
	const d = new Date(iso);
	if (isNaN(d.getTime())) return String(iso || "");
	const t = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" +
	    pad(d.getSeconds());
	if (!withDate && d.toDateString() === new Date().toDateString())
		return t;
	return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" +
	    pad(d.getDate()) + " " + t;
}

// The search box: "to:ADDR" filters on an envelope recipient, anything
// else on the subject (both done by the server).
function filters() {
	const q = $("q").value.trim();
	const p = new URLSearchParams();
	if (/^to:/i.test(q)) {
		if (q.slice(3).trim()) p.set("to", q.slice(3).trim());
	} else if (q) {
		p.set("subject", q);
	}
	return p;
}

async function getJson(url, opts) {
	const r = await fetch(url, Object.assign({ cache: "no-store",
		credentials: "same-origin" }, opts || {}));
	if (!r.ok) {
		const e = new Error("the server answered " + r.status);
		e.status = r.status;
		throw e;
	}
	return r.json();
}

// -- the list -----------------------------------------------------------

// "Ada <ada@example.org>" -> "Ada"; anything else as it is. The list
// has little room; the full field is in the cell's title.
function displayName(field) {
	const m = /^\s*"?([^"<]*?)"?\s*<[^>]*>\s*$/.exec(field || "");
	return m && m[1] ? m[1] : (field || "");
}

function badge(n) {
	const b = el("span", n, "badge");
	b.title = n + (n === 1 ? " problem" : " problems");
	b.appendChild(el("span", n === 1 ? " problem" : " problems", "sr"));
	return b;
}

function row(m) {
	const tr = document.createElement("tr");
	tr.dataset.id = m.id;
	const t = el("td", when(m.received), "time");
	t.title = String(m.received || "");
	tr.appendChild(t);
	const from = el("td", displayName(m.header_from) || m.from || "<>",
	    "from");
	from.title = m.header_from || m.from || "<>";
	tr.appendChild(from);
	const to = Array.isArray(m.to) ? m.to : [];
	const toCell = el("td", to.slice(0, 2).join(", ") +
	    (to.length > 2 ? " +" + (to.length - 2) : ""), "to");
	toCell.title = to.join(", ");
	tr.appendChild(toCell);
	const s = el("td", null, "subject");
	const a = el("a", m.subject || "(no subject)");
	s.title = a.textContent;
	a.href = "#" + encodeURIComponent(m.id);
	s.appendChild(a);
	tr.appendChild(s);
	tr.appendChild(el("td", size(m.size), "num"));
	const p = el("td", null, "nprob");
	if (m.problems > 0) p.appendChild(badge(m.problems));
	tr.appendChild(p);
	if (m.id === state.selected) {
		tr.classList.add("selected");
		a.setAttribute("aria-current", "true");
	}
	return tr;
}

function showList(total) {
	// New mail must not take the keyboard focus away from a row.
	const list = $("message-list");
	const had = list.contains(document.activeElement)
	    ? document.activeElement.closest("tr").dataset.id : null;
	list.replaceChildren(...state.messages.map(row));
	if (had !== null)
		for (const tr of list.children)
			if (tr.dataset.id === had) tr.querySelector("a").focus();
	$("empty").hidden = state.messages.length > 0;
	$("empty").textContent = $("q").value.trim()
	    ? "No message matches the search."
	    : "No mail yet. Send some to the SMTP port.";
	$("count").textContent = total > state.messages.length
	    ? "(" + state.messages.length + " of " + total + ")"
	    : "(" + total + ")";
	document.title = "tern capture (" + total + ")";
}

// signal: that of the wait loop asking, so that a list asked for by a
// loop that was since replaced never lands on the page.
async function loadList(signal) {
	const p = filters();
	p.set("limit", String(LIST_LIMIT));
	const j = await getJson("/api/messages?" + p, signal ?
	    { signal: signal } : undefined);
	state.messages = Array.isArray(j.messages) ? j.messages : [];
	if (state.messages.length > 0) bump(state.messages[0].id);
	showList(typeof j.total === "number" ? j.total : state.messages.length);
	document.body.dataset.loaded = "1";
}

function listChanged() {
	status(state.messages.length ? "waiting for new mail"
	    : "no mail yet: waiting for some", false);
}

// -- new mail without a reload -------------------------------------------

function pause(ms, signal) {
	return new Promise((resolve) => {
		const t = window.setTimeout(resolve, ms);
		signal.addEventListener("abort", () => {
			window.clearTimeout(t);
			resolve();
		}, { once: true });
	});
}

// Each 200 moves state.since forward, so the loop never spins on one
// message; 408 is the server's "nothing within the timeout".
async function waitLoop(signal) {
	let failures = 0;
	while (!signal.aborted) {
		const p = filters();
		p.set("since", state.since);
		p.set("timeout", String(WAIT_SECONDS));
		try {
			const r = await fetch("/api/wait?" + p, { signal: signal,
				cache: "no-store" });
			if (r.status === 200) {
				const m = await r.json(), before = state.since;
				bump(m.id);
				// Never ask again for the same: that would spin.
				if (state.since === before)
					throw new Error("the wait gave an old message");
				await loadList(signal);
			} else if (r.status === 408) {
				await r.text();
			} else {
				throw new Error("the server answered " + r.status);
			}
			failures = 0;
			listChanged();
		} catch (e) {
			if (signal.aborted) return;
			failures++;
			status("cannot reach the server (" + e.message +
			    "); trying again", true);
			await pause(Math.min(500 * 2 ** failures, RETRY_MAX_MS),
			    signal);
			if (signal.aborted) return;
			// The server may have restarted, counting ids from 1:
			// take the newest from its list again.
			try {
				state.since = "0";
				await loadList(signal);
			} catch (e2) {
				// the next wait fails too, and says so
			}
		}
	}
}

// A new search or a deletion: drop the wait under way, start again
// from the list the server has now.
async function restart() {
	if (state.waiter) state.waiter.abort();
	state.waiter = new AbortController();
	state.since = "0";
	try {
		await loadList();
		listChanged();
	} catch (e) {
		status("cannot load the list (" + e.message + ")", true);
	}
	waitLoop(state.waiter.signal);
}

// -- one message ---------------------------------------------------------

function summaryRows(m) {
	const to = Array.isArray(m.to) ? m.to.join(", ") : "";
	return [
		["From", m.header_from || "(none)"],
		["To", m.header_to || "(none)"],
		["Envelope from", m.from || "<>"],
		["Envelope to", to],
		["Received", when(m.received, true)],
		["Client", (m.client || "") + (m.helo ? ", HELO " + m.helo : "")],
		["TLS", m.tls ? "yes" : "no"],
		["AUTH", m.auth === null || m.auth === undefined ? "none"
		    : m.auth],
		["Size", size(m.size) + (m.size >= 1024 ? " (" + m.size +
		    " bytes)" : "")],
	];
}

function showSummary(m) {
	const dl = $("summary");
	const items = [];
	for (const [k, v] of summaryRows(m)) {
		const d = el("div");
		d.appendChild(el("dt", k));
		d.appendChild(el("dd", v));
		items.push(d);
	}
	dl.replaceChildren(...items);
}

// "RFC 5322 3.6.4" -> the text, with a link to the RFC's section. The
// link is built from the digits only.
function refNode(ref) {
	const span = el("span", null, "ref");
	const re = /RFC ([0-9]{1,5})(?: ([0-9]+(?:\.[0-9]+)*))?/g;
	let last = 0, m;
	const s = String(ref || "");
	while ((m = re.exec(s)) !== null) {
		span.appendChild(document.createTextNode(s.slice(last, m.index)));
		const a = el("a", m[0]);
		a.href = "https://www.rfc-editor.org/rfc/rfc" + m[1] +
		    (m[2] ? "#section-" + m[2] : "");
		a.rel = "noopener noreferrer";
		a.target = "_blank";
		span.appendChild(a);
		last = m.index + m[0].length;
	}
	span.appendChild(document.createTextNode(s.slice(last)));
	return span;
}

function showProblems(problems) {
	const list = Array.isArray(problems) ? problems : [];
	const items = list.map((p) => {
		const li = document.createElement("li");
		li.appendChild(el("code", p.rule, "rule"));
		li.appendChild(refNode(p.ref));
		if (p.detail) li.appendChild(el("span", p.detail, "why"));
		return li;
	});
	if (items.length === 0)
		items.push(el("li", "No problems found.", "ok"));
	$("problems").replaceChildren(...items);
	$("problems-box").classList.toggle("clean", list.length === 0);
}

function showHtml(m) {
	const box = $("view-html");
	const old = box.querySelector("iframe");
	if (old) old.remove();
	$("no-html").hidden = !!m.html;
	if (!m.html) return;
	const f = document.createElement("iframe");
	// An empty sandbox: no script, an opaque origin, no forms, no
	// popups, no top navigation. Never add allow-scripts together with
	// allow-same-origin: that would undo the sandbox.
	f.setAttribute("sandbox", "");
	f.setAttribute("referrerpolicy", "no-referrer");
	f.title = "the HTML part of the message";
	f.id = "html-frame";
	f.src = msgUrl(m.id, "/html");
	box.appendChild(f);
}

function showText(m) {
	const has = typeof m.text === "string";
	$("text").textContent = has ? m.text : "";
	$("text").hidden = !has;
	$("no-text").hidden = has;
}

function showParts(m) {
	const parts = (Array.isArray(m.parts) ? m.parts : [])
	    .filter((p) => !/^multipart\//i.test(p.type || ""));
	const rows = parts.map((p) => {
		const tr = document.createElement("tr");
		tr.appendChild(el("td", p.index));
		tr.appendChild(el("td", p.type));
		tr.appendChild(el("td", p.filename || ""));
		tr.appendChild(el("td", size(p.size), "num"));
		const td = document.createElement("td");
		const a = el("a", p.attachment ? "download (attachment)"
		    : "download");
		a.href = msgUrl(m.id, "/parts/" + encodeURIComponent(
		    String(p.index)));
		a.setAttribute("download", "");
		td.appendChild(a);
		tr.appendChild(td);
		return tr;
	});
	$("parts").replaceChildren(...rows);
	const n = parts.filter((p) => p.attachment).length;
	$("nparts").textContent = "(" + parts.length + ")";
	$("nparts").title = n + " attached";
}

function showHeaders(m) {
	const rows = (Array.isArray(m.headers) ? m.headers : []).map((h) => {
		const tr = document.createElement("tr");
		tr.appendChild(el("th", h[0]));
		tr.appendChild(el("td", h[1]));
		return tr;
	});
	$("headers").replaceChildren(...rows);
}

function showRawLinks(m) {
	$("raw-link").href = msgUrl(m.id, "/raw");
	$("raw-link").setAttribute("download", "message-" + m.id + ".eml");
	$("raw").textContent = "";
	state.rawFor = null;
}

// The source is fetched only when its tab is opened.
async function loadRaw() {
	const m = state.detail;
	if (!m || state.rawFor === m.id) return;
	state.rawFor = m.id;
	const pre = $("raw");
	if (m.size > RAW_SHOW_MAX) {
		pre.textContent = "(" + size(m.size) +
		    ": too large to show here; download it above)";
		return;
	}
	pre.textContent = "loading\u2026";
	try {
		const r = await fetch(msgUrl(m.id, "/raw"), { cache: "no-store" });
		if (!r.ok) throw new Error("the server answered " + r.status);
		const text = await r.text();
		if (state.detail === m) pre.textContent = text;
	} catch (e) {
		if (state.detail === m)
			pre.textContent = "cannot load it (" + e.message + ")";
	}
}

function available(name) {
	const m = state.detail;
	if (name === "html") return !!(m && m.html);
	return true;
}

function selectTab(name, focus) {
	for (const t of TABS) {
		const on = t === name;
		const tab = $("tab-" + t);
		tab.setAttribute("aria-selected", on ? "true" : "false");
		tab.tabIndex = on ? 0 : -1;
		$("view-" + t).hidden = !on;
		if (on && focus) tab.focus();
	}
	if (name === "raw") loadRaw();
}

function showDetail(m) {
	state.detail = m;
	$("subject").textContent = m.subject || "(no subject)";
	showSummary(m);
	showProblems(m.problems);
	showHtml(m);
	showText(m);
	showParts(m);
	showHeaders(m);
	showRawLinks(m);
	$("tab-html").setAttribute("aria-disabled", m.html ? "false" : "true");
	let tab = state.tab;
	if (!available(tab)) tab = "text";
	selectTab(tab, false);
	$("detail").hidden = false;
	document.body.dataset.opened = m.id;
}

function markSelected() {
	for (const tr of $("message-list").children) {
		const on = tr.dataset.id === state.selected;
		tr.classList.toggle("selected", on);
		const a = tr.querySelector("a");
		if (on) a.setAttribute("aria-current", "true");
		else a.removeAttribute("aria-current");
	}
}

function closeDetail() {
	state.selected = null;
	state.detail = null;
	$("detail").hidden = true;
	const f = $("html-frame");
	if (f) f.remove();
	delete document.body.dataset.opened;
	markSelected();
}

function hashId() {
	try {
		return decodeURIComponent(window.location.hash.slice(1));
	} catch (e) {
		return ""; // a malformed %-escape typed by hand
	}
}

async function openFromHash() {
	const id = hashId();
	if (!id) {
		closeDetail();
		return;
	}
	state.selected = id;
	markSelected();
	try {
		const m = await getJson(msgUrl(id));
		if (state.selected === id) showDetail(m);
	} catch (e) {
		if (state.selected !== id) return;
		closeDetail();
		status(e.status === 404 ? "that message is gone"
		    : "cannot open it (" + e.message + ")", true);
	}
}

// -- buttons and keys ----------------------------------------------------

async function deleteAll() {
	const n = state.messages.length;
	if (!window.confirm("Delete all captured messages" +
	    (n ? " (" + n + " shown)" : "") + "?"))
		return;
	try {
		const j = await getJson("/api/messages", { method: "DELETE" });
		history.replaceState(null, "", window.location.pathname);
		closeDetail();
		await restart();
		status("deleted " + j.deleted + (j.deleted === 1 ? " message"
		    : " messages"), false);
	} catch (e) {
		status("cannot delete (" + e.message + ")", true);
	}
}

async function deleteOne() {
	const id = state.selected;
	if (id === null) return;
	try {
		await getJson(msgUrl(id), { method: "DELETE" });
		history.replaceState(null, "", window.location.pathname);
		closeDetail();
		await restart();
		status("deleted the message", false);
	} catch (e) {
		status("cannot delete it (" + e.message + ")", true);
	}
}

// Up and down (or k and j) in the list move to the next message.
function listKeys(ev) {
	const next = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1 }[ev.key];
	if (!next || ev.altKey || ev.ctrlKey || ev.metaKey) return;
	const rows = Array.from($("message-list").children);
	const at = rows.findIndex((tr) => tr.contains(document.activeElement));
	const to = rows[Math.max(0, Math.min(rows.length - 1,
	    (at < 0 ? -next : at) + next))];
	if (!to) return;
	ev.preventDefault();
	const a = to.querySelector("a");
	a.focus();
	window.location.hash = a.getAttribute("href");
}

// Arrows, Home and End move between tabs (WAI-ARIA tabs pattern).
function tabKeys(ev) {
	const cur = TABS.indexOf(ev.target.id.replace(/^tab-/, ""));
	if (cur < 0) return;
	const enabled = TABS.filter(available);
	let i = enabled.indexOf(TABS[cur]);
	if (ev.key === "ArrowRight") i = (i + 1) % enabled.length;
	else if (ev.key === "ArrowLeft")
		i = (i - 1 + enabled.length) % enabled.length;
	else if (ev.key === "Home") i = 0;
	else if (ev.key === "End") i = enabled.length - 1;
	else return;
	ev.preventDefault();
	state.tab = enabled[i];
	selectTab(state.tab, true);
}

function wire() {
	$("delete-all").addEventListener("click", deleteAll);
	$("delete-one").addEventListener("click", deleteOne);
	$("message-list").addEventListener("keydown", listKeys);
	// A click anywhere on a row opens it, not only on the subject.
	$("message-list").addEventListener("click", (ev) => {
		const tr = ev.target.closest("tr");
		if (!tr || ev.target.closest("a")) return;
		window.location.hash = "#" + encodeURIComponent(tr.dataset.id);
	});
	for (const t of TABS) {
		$("tab-" + t).addEventListener("click", () => {
			if (!available(t)) return;
			state.tab = t;
			selectTab(t, false);
		});
		$("tab-" + t).addEventListener("keydown", tabKeys);
	}
	let timer = 0;
	$("q").addEventListener("input", () => {
		window.clearTimeout(timer);
		timer = window.setTimeout(restart, 250);
	});
	$("search").addEventListener("submit", (ev) => {
		ev.preventDefault();
		window.clearTimeout(timer);
		restart();
	});
	window.addEventListener("hashchange", openFromHash);
}

wire();
restart().then(openFromHash);
