// SPDX-License-Identifier: ISC
// tern's dashboard (issue 17): asks /api/status every 3 seconds and
// shows it. Every value from the server goes into the page as text
// (textContent), never as HTML. With [observability] http_token_file
// the page is opened as /#token=TOKEN: a URL fragment never leaves the
// browser (not sent, not logged, not in a Referer), and the token goes
// to the server only in the Authorization header of the data requests.
"use strict";

const PERIOD_MS = 3000;
const NS = "http://www.w3.org/2000/svg";
const SERIES = ["accepted", "delivered", "deferred", "rejected"];

function tokenFromFragment() {
	const m = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
	return m ? decodeURIComponent(m[1]) : "";
}

const token = tokenFromFragment();

function setText(id, value) {
	const el = document.getElementById(id);
	if (el) el.textContent = String(value);
}

function age(seconds) {
	if (!(seconds > 0)) return "0s";
	const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24;
	const m = Math.floor(seconds / 60) % 60, s = Math.floor(seconds % 60);
	if (d > 0) return d + "d " + h + "h";
	if (h > 0) return h + "h " + m + "m";
	if (m > 0) return m + "m " + s + "s";
	return s + "s";
}

function status(text, isError) {
	const el = document.getElementById("status");
	el.textContent = text;
	el.classList.toggle("error", !!isError);
}

function svg(name, attrs, parent) {
	const el = document.createElementNS(NS, name);
	for (const k in attrs) el.setAttribute(k, String(attrs[k]));
	if (parent) parent.appendChild(el);
	return el;
}

// A line per series over the last 60 minutes, scaled to the busiest.
function drawChart(minutes) {
	const box = document.getElementById("chart");
	// The box's own size in pixels: text is never stretched.
	const W = Math.max(box.clientWidth - 16, 200), H = 180, L = 34, B = 18;
	const s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img",
		"aria-label": "mail per minute over the last hour" });
	let max = 1;
	for (const m of minutes)
		for (const k of SERIES) max = Math.max(max, m[k] || 0);
	svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }, s);
	svg("line", { x1: L, y1: 4, x2: L, y2: H - B, class: "axis" }, s);
	svg("text", { x: 2, y: 12 }, s).textContent = String(max);
	svg("text", { x: 2, y: H - B }, s).textContent = "0";
	svg("text", { x: L, y: H - 2 }, s).textContent = "-60 min";
	svg("text", { x: W - 30, y: H - 2 }, s).textContent = "now";
	const n = Math.max(minutes.length - 1, 1);
	// Accepted last, dashed: it often runs on top of delivered.
	for (const k of SERIES.slice(1).concat(SERIES[0])) {
		const pts = minutes.map((m, i) =>
			(L + (W - L) * i / n).toFixed(1) + "," +
			(H - B - (H - B - 6) * (m[k] || 0) / max).toFixed(1));
		svg("polyline", { points: pts.join(" "), class: k }, s);
	}
	box.replaceChildren(s);
}

function fillCauses(id, causes) {
	const list = document.getElementById(id);
	const items = (causes || []).map((c) => {
		const li = document.createElement("li");
		li.textContent = c.cause;
		const n = document.createElement("span");
		n.className = "count";
		n.textContent = String(c.count);
		li.appendChild(n);
		return li;
	});
	list.replaceChildren(...items);
	document.getElementById(id + "-empty").hidden = items.length > 0;
}

function fillHeld(held) {
	const rows = (held || []).map((m) => {
		const tr = document.createElement("tr");
		const when = new Date(m.arrival * 1000).toISOString()
			.replace("T", " ").replace(/\.\d+Z$/, " UTC");
		for (const v of [m.id, m.from === "" ? "<>" : m.from, when,
			m.reason || ""]) {
			const td = document.createElement("td");
			td.textContent = v;
			tr.appendChild(td);
		}
		return tr;
	});
	document.getElementById("held-list").replaceChildren(...rows);
	document.getElementById("held-empty").hidden = rows.length > 0;
}

// The last 60 seconds: the minute under way, and the part of the one
// before that falls within them (as if it was spread evenly).
function perMinute(minutes, now, key) {
	const n = minutes.length;
	if (n === 0) return 0;
	const cur = minutes[n - 1], prev = n > 1 ? minutes[n - 2] : {};
	const into = Math.min(Math.max(now - cur.t, 0), 60) / 60;
	return Math.round((cur[key] || 0) + (prev[key] || 0) * (1 - into));
}

function show(st) {
	const c = st.counters || {}, q = st.queue || {};
	for (const k of ["accepted", "delivered", "deferred", "bounced",
		"rejected", "held", "connections"])
		setText(k, c[k] === undefined ? "–" : c[k]);
	setText("queue-messages", q.messages);
	setText("queue-held", q.held);
	setText("queue-oldest", age(q.oldest_age));
	const minutes = st.minutes || [];
	setText("rate-accepted", perMinute(minutes, st.now, "accepted"));
	setText("rate-delivered", perMinute(minutes, st.now, "delivered"));
	drawChart(minutes);
	fillCauses("rejections", st.rejections);
	fillCauses("deferrals", st.deferrals);
	fillHeld(st.held_messages);
	setText("uptime", "up " + age(st.now - st.started));
	status("updated " + new Date(st.now * 1000).toLocaleTimeString(),
		false);
	document.body.dataset.loaded = "1";
}

async function poll() {
	const headers = token ? { Authorization: "Bearer " + token } : {};
	try {
		const r = await fetch("api/status", { headers: headers,
			cache: "no-store", credentials: "omit" });
		if (r.status === 401)
			status(token ? "the token was refused"
				: "this server wants a token: open /#token=TOKEN",
				true);
		else if (!r.ok)
			status("the server answered " + r.status, true);
		else
			show(await r.json());
	} catch (e) {
		status("cannot reach the server: " + e.message, true);
	}
	window.setTimeout(poll, PERIOD_MS);
}

poll();
