/*
 * app.js - derelict's web page: the fleet at a glance, hosts, a host's
 * page, findings and projects, over the REST API in /api/v1.
 *
 * Every string that comes from the API is put into the page as text
 * (textContent / createTextNode), never parsed as markup: hostnames,
 * process names and package names are written by agents on hosts we do
 * not trust.  The Content-Security-Policy forbids inline script and style,
 * so presentation is by class names only.
 */
'use strict';

(function () {

const API = '/api/v1';
const SVGNS = 'http://www.w3.org/2000/svg';
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
const STATUSES = ['active', 'silent', 'retired'];
const PAGE_SIZE = 50;

const state = {
	me: null,          /* {name, role} from /whoami */
	renderId: 0,       /* bumps on every navigation; late answers are dropped */
};

/* ---------- DOM helpers ---------- */

/*
 * el('a', {href: '#/', class: 'x'}, 'text', node, [more]) builds an element.
 * Strings become text nodes; attributes are set one by one and 'style' is
 * refused so nothing here can trip the CSP.
 */
function el(tag, attrs, ...children) {
	const e = document.createElement(tag);
	setAttrs(e, attrs);
	append(e, children);
	return e;
}

function svg(tag, attrs, ...children) {
	const e = document.createElementNS(SVGNS, tag);
	setAttrs(e, attrs);
	append(e, children);
	return e;
}

function setAttrs(e, attrs) {
	if (!attrs)
		return;
	for (const [k, v] of Object.entries(attrs)) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k === 'style' || k.startsWith('on'))
			throw new Error('el: refusing attribute ' + k);
		if (k === 'text')
			e.textContent = String(v);
		else
			e.setAttribute(k, v === true ? '' : String(v));
	}
}

function append(parent, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false || c === '')
			continue;
		if (Array.isArray(c))
			append(parent, c);
		else if (c instanceof Node)
			parent.appendChild(c);
		else
			parent.appendChild(document.createTextNode(String(c)));
	}
}

function clear(node) {
	while (node.firstChild)
		node.removeChild(node.firstChild);
	return node;
}

function on(node, type, fn) {
	node.addEventListener(type, fn);
	return node;
}

let toastTimer = 0;
function toast(msg, isError) {
	const t = document.getElementById('toast');
	t.textContent = msg;
	t.className = 'toast show' + (isError ? ' error' : '');
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => { t.className = 'toast'; }, 5000);
}

/* ---------- API ---------- */

class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

let busy = 0;
function setBusy(d) {
	busy += d;
	document.body.dataset.busy = String(busy);
}

async function api(path, opts) {
	opts = opts || {};
	const init = {
		method: opts.method || 'GET',
		credentials: 'same-origin',
		headers: {'Accept': 'application/json'},
	};
	if (opts.body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(opts.body);
	}
	/* body[data-busy] counts requests in flight, for tests and styling. */
	setBusy(+1);
	let res, text;
	try {
		res = await fetch(API + path, init);
		text = await res.text();
	} finally {
		setBusy(-1);
	}
	let data = null;
	if (text) {
		try {
			data = JSON.parse(text);
		} catch (e) {
			data = null;
		}
	}
	if (!res.ok) {
		const err = data && data.error ? data.error : {};
		throw new ApiError(res.status, err.code || String(res.status),
			err.message || res.statusText || 'request failed');
	}
	return data;
}

function qs(params) {
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(params))
		if (v !== undefined && v !== null && v !== '' && v !== false)
			p.set(k, String(v));
	const s = p.toString();
	return s ? '?' + s : '';
}

/* Lists are {items, total, next_cursor}; tolerate a bare array too. */
function itemsOf(data) {
	if (Array.isArray(data))
		return data;
	if (data && Array.isArray(data.items))
		return data.items;
	return [];
}

/* Fetches every page of a list, up to a cap, for small collections. */
async function apiAll(path, params, cap) {
	cap = cap || 5000;
	let out = [];
	let cursor = null;
	do {
		const q = Object.assign({}, params, {limit: 1000, cursor: cursor});
		const data = await api(path + qs(q));
		out = out.concat(itemsOf(data));
		cursor = data && data.next_cursor;
	} while (cursor && out.length < cap);
	return out;
}

/* A host's section with every page of its items, up to a cap: the first
 * page's header (source, hash, last login...) with all the items read. */
async function sectionAll(hid, name, cap) {
	cap = cap || 20000;
	const path = '/hosts/' + hid + '/' + name;
	let first = null;
	let items = [];
	let cursor = null;
	do {
		const d = await api(path + qs({limit: 1000, cursor: cursor}));
		first = first || d || {};
		items = items.concat(itemsOf(d));
		cursor = d && d.next_cursor;
	} while (cursor && items.length < cap);
	return Object.assign({}, first, {items: items, next_cursor: cursor});
}

/* Says so when a section has more items than the page read. */
function partial(d, block) {
	const total = d && typeof d.total === 'number' ? d.total : null;
	const shown = itemsOf(d).length;
	return el('div', null, total !== null && total > shown ?
		el('p', {class: 'muted partial-note'}, 'Showing the first ' +
			shown + ' of ' + total + ' items.') : null, block);
}

function isAdmin() {
	return state.me && state.me.role === 'admin';
}

/* ---------- formatting ---------- */

function parseTime(v) {
	if (v === null || v === undefined || v === '')
		return null;
	const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
	return isNaN(d.getTime()) ? null : d;
}

function plural(n, word) {
	return n + ' ' + word + (n === 1 ? '' : 's');
}

function relSpan(ms) {
	const s = Math.abs(ms) / 1000;
	if (s < 45)
		return null;
	const m = s / 60, h = m / 60, d = h / 24;
	if (m < 45) return plural(Math.round(m), 'minute');
	if (h < 22) return plural(Math.round(h), 'hour');
	if (d < 26) return plural(Math.round(d), 'day');
	if (d < 320) return plural(Math.max(1, Math.round(d / 30.44)), 'month');
	return plural(Math.max(1, Math.round(d / 365.25)), 'year');
}

function ago(d, now) {
	const ms = (now || Date.now()) - d.getTime();
	const span = relSpan(ms);
	if (!span)
		return 'just now';
	return ms >= 0 ? span + ' ago' : 'in ' + span;
}

/* A <time> that reads "3 months ago" and shows the exact time on hover. */
function timeEl(v, emptyText) {
	const d = parseTime(v);
	if (!d)
		return el('span', {class: 'muted'}, emptyText || 'never');
	const iso = d.toISOString().replace(/\.000Z$/, 'Z');
	return el('time', {datetime: iso, title: exactTime(d)}, ago(d));
}

function exactTime(d) {
	const p = (n) => String(n).padStart(2, '0');
	return d.getUTCFullYear() + '-' + p(d.getUTCMonth() + 1) + '-' +
		p(d.getUTCDate()) + ' ' + p(d.getUTCHours()) + ':' +
		p(d.getUTCMinutes()) + ':' + p(d.getUTCSeconds()) + ' UTC';
}

function todayUTC(offsetDays) {
	const d = new Date(Date.now() + (offsetDays || 0) * 86400000);
	return d.toISOString().slice(0, 10);
}

/* A project's end date: "2026-03-31 (ended 2 months ago)". */
function endDateEl(dateStr) {
	if (!dateStr)
		return el('span', {class: 'muted'}, 'no end date');
	const d = parseTime(dateStr + 'T00:00:00Z');
	if (!d)
		return el('span', null, dateStr);
	const ended = dateStr < todayUTC();
	let rel;
	if (dateStr === todayUTC())
		rel = 'ends today';
	else
		rel = (ended ? 'ended ' : 'ends ') + ago(d);
	return el('span', {class: ended ? 'ended' : ''},
		el('time', {datetime: dateStr, title: dateStr}, dateStr),
		' ', el('span', {class: 'muted'}, '(' + rel + ')'));
}

function sevRank(s) {
	const i = SEVERITIES.indexOf(s);
	return i < 0 ? SEVERITIES.length : i;
}

function sevBadge(sev) {
	if (!sev || sev === 'none')
		return el('span', {class: 'muted'}, '—');
	return el('span', {class: 'badge sev-' + cls(sev)}, sev);
}

function statusBadge(st) {
	if (!st)
		return el('span', {class: 'muted'}, '—');
	return el('span', {class: 'badge st-' + cls(st)}, st);
}

/* Only known words become class names; anything else gets a neutral one. */
function cls(word) {
	return /^[a-z][a-z0-9-]{0,30}$/.test(String(word)) ? word : 'other';
}

function yesNo(b) {
	return b ? 'yes' : 'no';
}

function str(v) {
	if (v === null || v === undefined)
		return '';
	if (typeof v === 'object')
		return JSON.stringify(v);
	return String(v);
}

function hostLink(id, name) {
	return el('a', {href: '#/host/' + encodeURIComponent(id)},
		name || ('host ' + id));
}

/* ---------- exposure, as the server decides it ---------- */

/*
 * Whether a listening port (an item of GET /hosts/{id}/ports) makes the
 * host's mail exposed: the server's mail summary lists it as an SMTP port
 * on a non-loopback address ("smtp" and "public", decided by the rules
 * with the configured smtp_ports).
 */
function mailExposedPort(host, p) {
	const mp = host && host.mail && Array.isArray(host.mail.ports) ?
		host.mail.ports : [];
	const addr = p.address === null || p.address === undefined ? '*' :
		String(p.address);
	return mp.some((m) => m && typeof m === 'object' && m.smtp === true &&
		m.public === true && Number(m.port) === Number(p.port) &&
		m.proto === p.proto && m.address === addr);
}

/* ---------- generic sortable table ---------- */

/*
 * table(cols, rows, opts) draws rows into a scrollable table.
 * cols: [{key, label, value?(row) for sorting, render?(row) -> node|string,
 *         cls?}]; opts: {sort: key, dir: 1|-1, rowClass?(row), empty, caption}.
 * Returns a container whose rows re-sort in place when a header is used.
 */
function table(cols, rows, opts) {
	opts = opts || {};
	const wrap = el('div', {class: 'table-wrap'});
	let sortKey = opts.sort || null;
	let dir = opts.dir || 1;
	const tbl = el('table', {class: 'data' + (opts.cls ? ' ' + opts.cls : '')});
	if (opts.caption)
		tbl.appendChild(el('caption', {class: 'sr-only'}, opts.caption));
	const thead = el('thead');
	const tbody = el('tbody');
	tbl.append(thead, tbody);
	wrap.appendChild(tbl);

	function valueOf(col, row) {
		const v = col.value ? col.value(row) : row[col.key];
		return v === null || v === undefined ? '' : v;
	}

	function compare(a, b) {
		if (typeof a === 'number' && typeof b === 'number')
			return a - b;
		return String(a).localeCompare(String(b), undefined,
			{numeric: true, sensitivity: 'base'});
	}

	function drawHead() {
		clear(thead);
		const tr = el('tr');
		for (const c of cols) {
			const th = el('th', {scope: 'col', class: c.cls});
			if (c.sortable === false) {
				th.textContent = c.label;
			} else {
				const active = c.key === sortKey;
				th.setAttribute('aria-sort', active ?
					(dir > 0 ? 'ascending' : 'descending') : 'none');
				const b = el('button', {type: 'button', class: 'sort'},
					c.label,
					el('span', {class: 'arrow', 'aria-hidden': 'true'},
						active ? (dir > 0 ? ' ▲' : ' ▼') : ''));
				on(b, 'click', () => {
					if (sortKey === c.key)
						dir = -dir;
					else {
						sortKey = c.key;
						dir = 1;
					}
					drawHead();
					drawBody();
					thead.querySelector('th[aria-sort="' +
						(dir > 0 ? 'ascending' : 'descending') +
						'"] button').focus();
				});
				th.appendChild(b);
			}
			tr.appendChild(th);
		}
		thead.appendChild(tr);
	}

	function drawBody() {
		clear(tbody);
		let list = rows.slice();
		if (sortKey) {
			const col = cols.find((c) => c.key === sortKey);
			if (col)
				list.sort((a, b) => dir * compare(valueOf(col, a),
					valueOf(col, b)));
		}
		if (!list.length) {
			tbody.appendChild(el('tr', null, el('td',
				{colspan: cols.length, class: 'empty'},
				opts.empty || 'Nothing here.')));
			return;
		}
		for (const r of list) {
			const tr = el('tr', {class: opts.rowClass ? opts.rowClass(r) : null});
			for (const c of cols) {
				const content = c.render ? c.render(r) : str(r[c.key]);
				const td = el('td', {class: c.cls, 'data-label': c.label},
					content);
				tr.appendChild(td);
			}
			tbody.appendChild(tr);
		}
	}

	wrap.setRows = (r) => { rows = r; drawBody(); };
	drawHead();
	drawBody();
	return wrap;
}

/* ---------- dialogs ---------- */

/*
 * formDialog(title, fields, submitLabel, onSubmit) opens a modal form.
 * fields: [{name, label, type, value, required, options: [[value, text]],
 * help}]. onSubmit(values) may throw; its message is shown in the dialog.
 */
function formDialog(title, fields, submitLabel, onSubmit, intro) {
	const dlg = el('dialog', {class: 'dlg', 'aria-labelledby': 'dlg-title'});
	const form = el('form', {method: 'dialog', novalidate: false});
	const err = el('p', {class: 'error', role: 'alert'});
	form.appendChild(el('h2', {id: 'dlg-title'}, title));
	if (intro)
		form.appendChild(el('p', null, intro));
	const inputs = {};
	let n = 0;
	for (const f of fields) {
		const id = 'f-' + f.name + '-' + (++n);
		let input;
		if (f.type === 'select') {
			input = el('select', {id: id, name: f.name});
			for (const [v, t] of f.options)
				input.appendChild(el('option', {value: v,
					selected: v === f.value}, t));
		} else if (f.type === 'textarea') {
			input = el('textarea', {id: id, name: f.name, rows: 3,
				required: f.required});
			input.value = f.value || '';
		} else {
			input = el('input', {id: id, name: f.name,
				type: f.type || 'text', required: f.required,
				readonly: f.readonly, autocomplete: 'off'});
			input.value = f.value || '';
		}
		inputs[f.name] = input;
		form.appendChild(el('div', {class: 'field'},
			el('label', {for: id}, f.label + (f.required ? ' *' : '')),
			input, f.help ? el('small', {class: 'muted'}, f.help) : null));
	}
	form.appendChild(err);
	const cancel = el('button', {type: 'button', class: 'btn'}, 'Cancel');
	const ok = el('button', {type: 'submit', class: 'btn primary'},
		submitLabel);
	form.appendChild(el('div', {class: 'actions'}, cancel, ok));
	dlg.appendChild(form);
	document.body.appendChild(dlg);
	on(cancel, 'click', () => dlg.close());
	on(dlg, 'close', () => dlg.remove());
	on(form, 'submit', async (ev) => {
		ev.preventDefault();
		if (!form.reportValidity())
			return;
		const values = {};
		for (const [k, i] of Object.entries(inputs))
			values[k] = i.value;
		ok.disabled = true;
		err.textContent = '';
		try {
			await onSubmit(values);
			dlg.close();
		} catch (e) {
			err.textContent = e.message || String(e);
		} finally {
			ok.disabled = false;
		}
	});
	dlg.showModal();
	const first = form.querySelector('input:not([readonly]), select, textarea');
	if (first)
		first.focus();
	return dlg;
}

function confirmDialog(title, text, okLabel, onOk) {
	return formDialog(title, [], okLabel, onOk, text);
}

/* ---------- SVG charts ---------- */

/*
 * hbars(title, rows) draws labelled horizontal bars; rows: [{label, value,
 * cls, href?}].  Pure SVG, sized by its viewBox so it scales with the page.
 */
function hbars(title, rows) {
	const W = 360, rowH = 26, labelW = 80, numW = 40;
	const H = rows.length * rowH + 6;
	const max = Math.max(1, ...rows.map((r) => r.value || 0));
	const s = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, class: 'chart',
		role: 'img', 'aria-label': title + ': ' +
		rows.map((r) => r.label + ' ' + (r.value || 0)).join(', ')});
	s.appendChild(svg('title', null, title));
	rows.forEach((r, i) => {
		const y = i * rowH + 4;
		const w = Math.round((W - labelW - numW) * (r.value || 0) / max);
		const g = svg('g', {class: 'bar ' + r.cls});
		g.appendChild(svg('title', null, r.label + ': ' + (r.value || 0)));
		g.appendChild(svg('text', {x: 0, y: y + 15, class: 'lbl'}, r.label));
		g.appendChild(svg('rect', {x: labelW, y: y, width: Math.max(w, r.value ? 2 : 0),
			height: rowH - 8, rx: 3}));
		g.appendChild(svg('text', {x: labelW + w + 6, y: y + 15,
			class: 'num'}, String(r.value || 0)));
		if (r.href) {
			const a = svg('a', {href: r.href});
			a.appendChild(g);
			s.appendChild(a);
		} else {
			s.appendChild(g);
		}
	});
	return s;
}

/*
 * timeline(points, series) draws one line per series over dates;
 * points: [{date: 'YYYY-MM-DD', <series key>: N}], series: [{key, label, cls}].
 */
function timeline(title, points, series) {
	/* Drawn at the page's width so its text keeps its size on a phone. */
	const W = Math.max(300, Math.min(1160, mainEl().clientWidth - 60));
	const H = W < 500 ? 180 : 220, L = 40, R = 10, T = 10, B = 28;
	const s = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, class: 'chart timeline',
		role: 'img', 'aria-label': title});
	s.appendChild(svg('title', null, title));
	if (!points.length) {
		s.appendChild(svg('text', {x: W / 2, y: H / 2, class: 'lbl',
			'text-anchor': 'middle'}, 'No history yet'));
		return s;
	}
	let max = 1;
	for (const p of points)
		for (const se of series)
			max = Math.max(max, Number(p[se.key]) || 0);
	max = niceMax(max);
	const n = points.length;
	const x = (i) => L + (n === 1 ? (W - L - R) / 2 : i * (W - L - R) / (n - 1));
	const y = (v) => T + (H - T - B) * (1 - v / max);
	const axis = svg('g', {class: 'axis'});
	for (let k = 0; k <= 4; k++) {
		const v = max * k / 4;
		axis.appendChild(svg('line', {x1: L, x2: W - R, y1: y(v), y2: y(v)}));
		axis.appendChild(svg('text', {x: L - 6, y: y(v) + 4,
			'text-anchor': 'end'}, String(Math.round(v))));
	}
	const ticks = Math.min(n, W < 500 ? 3 : 6);
	for (let k = 0; k < ticks; k++) {
		const i = ticks === 1 ? 0 : Math.round(k * (n - 1) / (ticks - 1));
		axis.appendChild(svg('text', {x: x(i), y: H - 8,
			'text-anchor': k === 0 && n > 1 ? 'start' :
				(k === ticks - 1 && n > 1 ? 'end' : 'middle')},
			String(points[i].date || '')));
	}
	s.appendChild(axis);
	for (const se of series) {
		const pts = points.map((p, i) => x(i) + ',' + y(Number(p[se.key]) || 0));
		const g = svg('g', {class: 'series ' + se.cls});
		g.appendChild(svg('polyline', {points: pts.join(' ')}));
		points.forEach((p, i) => {
			const c = svg('circle', {cx: x(i), cy: y(Number(p[se.key]) || 0),
				r: n > 60 ? 1.5 : 3});
			c.appendChild(svg('title', null, p.date + ': ' +
				(Number(p[se.key]) || 0) + ' ' + se.label));
			g.appendChild(c);
		});
		s.appendChild(g);
	}
	return s;
}

/* The smallest 4 * step >= v with step 1, 2 or 5 times a power of ten. */
function niceMax(v) {
	const raw = Math.max(1, v / 4);
	const mag = Math.pow(10, Math.floor(Math.log10(raw)));
	for (const st of [1, 2, 5, 10])
		if (st * mag >= raw)
			return 4 * st * mag;
	return 40 * mag;
}

function legend(series) {
	return el('ul', {class: 'legend'}, series.map((se) =>
		el('li', {class: 'series ' + se.cls},
			el('span', {class: 'swatch', 'aria-hidden': 'true'}), se.label)));
}

/* ---------- page scaffolding ---------- */

function mainEl() {
	return document.getElementById('main');
}

function page(title, ...children) {
	document.title = title + ' — derelict';
	const m = clear(mainEl());
	append(m, [el('h1', null, title)].concat(children));
	return m;
}

function section(title, ...children) {
	return el('section', {class: 'panel'}, el('h2', null, title), children);
}

function errorBox(e) {
	const msg = e instanceof ApiError ?
		e.message + ' (HTTP ' + e.status + ')' : (e.message || String(e));
	return el('p', {class: 'error', role: 'alert'}, msg);
}

/* Runs loader(); drops its result if the user navigated away meanwhile. */
function guard(id, fn) {
	return (...a) => {
		if (id === state.renderId)
			return fn(...a);
	};
}

/* Fills a placeholder when a promise settles, with an error if it fails. */
function slot(id, promise, render) {
	const holder = el('div', {class: 'slot'}, el('p', {class: 'muted'}, 'Loading…'));
	promise.then(guard(id, (v) => {
		clear(holder);
		append(holder, [render(v)]);
	}), guard(id, (e) => {
		clear(holder);
		holder.appendChild(errorBox(e));
	}));
	return holder;
}

/* ---------- overview ---------- */

function countCard(label, value, href, cls2) {
	return el('li', {class: 'card ' + (cls2 || '')},
		el('a', {href: href},
			el('span', {class: 'count', 'data-count': label.toLowerCase()},
				String(value === undefined || value === null ? '—' : value)),
			el('span', {class: 'label'}, label)));
}

function num(v) {
	return typeof v === 'number' ? v : (Number(v) || 0);
}

async function viewOverview(id) {
	const summaryP = api('/summary');
	const findingsP = apiAll('/findings', {status: 'open'}, 2000);
	const mailHostsP = api('/hosts' + qs({abandoned: 'true', mail: 'true',
		limit: 200}));

	const m = page('Fleet overview');
	const countsHolder = slot(id, summaryP, (s) => {
		const f = s.findings || {};
		return el('ul', {class: 'cards', 'aria-label': 'Fleet counts'},
			countCard('Hosts', s.hosts, '#/hosts'),
			countCard('Abandoned', s.abandoned, '#/hosts?abandoned=true', 'warn'),
			countCard('Running mail', s.mail, '#/hosts?mail=true'),
			countCard('Exposed', s.exposed, '#/hosts?mail=true', 'bad'),
			countCard('Silent', s.silent, '#/hosts?status=silent'),
			countCard('Critical findings', f.critical, '#/findings?severity=critical',
				num(f.critical) ? 'bad' : ''));
	});
	m.appendChild(countsHolder);
	m.appendChild(slot(id, summaryP, advisoryAge));

	/* The question of the page: which forgotten machines still run mail. */
	/* Each host's signals say why it counts as abandoned; a few dozen
	   hosts at most are fetched one by one. */
	const detailsP = mailHostsP.then((d) => Promise.all(itemsOf(d).slice(0, 30)
		.map((h) => api('/hosts/' + encodeURIComponent(h.id)).catch(() => null))));
	const urgent = section('Forgotten hosts still running mail',
		slot(id, Promise.all([mailHostsP, findingsP, detailsP]),
			([hosts, findings, details]) => {
			const list = itemsOf(hosts);
			const signals = new Map();
			for (const d of details)
				if (d && Array.isArray(d.signals))
					signals.set(d.id, d.signals);
			if (!list.length)
				return el('p', {class: 'ok'},
					'No abandoned host runs a mail service.');
			const why = new Map();
			for (const f of findings)
				if (f.rule === 'abandoned-mail-service' && !why.has(f.host_id))
					why.set(f.host_id, f);
			return el('ul', {class: 'urgent'}, list.map((h) => {
				const f = why.get(h.id);
				return el('li', null,
					el('div', {class: 'line'},
						h.mail && h.mail.exposed ?
							el('span', {class: 'badge sev-critical'}, 'exposed') :
							el('span', {class: 'badge sev-high'}, 'mail'),
						' ', hostLink(h.id, h.hostname),
						h.project ? el('span', {class: 'muted'},
							' · ' + h.project) : null,
						' · ', el('span', {class: 'muted'}, 'last seen '),
						timeEl(h.last_seen)),
					el('p', {class: 'why'}, f ? f.summary :
						'Abandoned and running a mail service.'),
					signals.get(h.id) && signals.get(h.id).length ?
						el('ul', {class: 'signals compact'},
							signals.get(h.id).map((x) => el('li', null,
								el('strong', {class: 'signal'}, x.signal || str(x)),
								x.evidence ? ' — ' + str(x.evidence) : ''))) : null);
			}));
		}));
	urgent.classList.add('urgent-panel');
	m.appendChild(urgent);

	const findingsSec = section('Open findings, most severe first',
		slot(id, findingsP, (findings) => findingList(findings, 25)));
	m.appendChild(findingsSec);

	const pics = el('div', {class: 'grid2'});
	pics.appendChild(section('Fleet by status',
		slot(id, summaryP, (s) => {
			const st = s.status || {};
			return hbars('Hosts by status', STATUSES.map((k) => ({
				label: k, value: num(st[k] !== undefined ? st[k] :
					(k === 'silent' ? s.silent : k === 'retired' ? s.retired :
						undefined)),
				cls: 'st-' + k, href: '#/hosts?status=' + k})));
		})));
	pics.appendChild(section('Open findings by severity',
		slot(id, summaryP, (s) => {
			const f = s.findings || {};
			return hbars('Open findings by severity',
				SEVERITIES.filter((k) => k !== 'info' || f.info)
					.map((k) => ({label: k, value: num(f[k]),
						cls: 'sev-' + k, href: '#/findings?severity=' + k})));
		})));
	m.appendChild(pics);

	const series = [
		{key: 'open', label: 'open', cls: 'open'},
		{key: 'critical', label: 'critical', cls: 'sev-critical'},
		{key: 'high', label: 'high', cls: 'sev-high'},
	];
	m.appendChild(section('Open findings over time',
		slot(id, summaryP, (s) => {
			const pts = (s.findings_over_time || s.history || [])
				.filter((p) => p && p.date)
				.map((p) => Object.assign({}, p, {open: p.open !== undefined ?
					p.open : SEVERITIES.reduce((a, k) => a + num(p[k]), 0)}));
			return el('div', null, timeline('Open findings over time', pts, series),
				legend(series));
		})));
}

/* How old the advisory data is, and a warning past a week: stale data
   finds no new vulnerability. */
function advisoryAge(s) {
	const a = s.advisories;
	if (!a)
		return el('span');
	const age = a.age_seconds !== null && a.age_seconds !== undefined ?
		(relSpan(a.age_seconds * 1000) || 'under a minute') + ' old' :
		'no data';
	return el('p', {class: 'advisory-age' + (a.stale ? ' stale' : ''),
		role: a.stale ? 'alert' : null},
		el('strong', null, 'Advisory data: '),
		a.data_date ? 'from ' + a.data_date + ' (' + age + ')' : age,
		a.stale && a.warning ? el('span', {class: 'warning'},
			' — ' + str(a.warning)) : null);
}

/* Findings as a list of one-line reasons; click goes to the host. */
function findingList(findings, limit) {
	const sorted = findings.slice().sort((a, b) =>
		sevRank(a.severity) - sevRank(b.severity) ||
		String(b.last_seen || '').localeCompare(String(a.last_seen || '')));
	if (!sorted.length)
		return el('p', {class: 'ok'}, 'No open findings.');
	const shown = limit ? sorted.slice(0, limit) : sorted;
	const ul = el('ul', {class: 'findings'}, shown.map((f) =>
		el('li', {class: 'finding sev-' + cls(f.severity)},
			sevBadge(f.severity), ' ',
			el('a', {href: '#/host/' + encodeURIComponent(f.host_id),
				class: 'finding-link'},
				el('strong', null, f.hostname || ('host ' + f.host_id)),
				el('span', {class: 'rule'}, f.rule)),
			el('p', {class: 'why'}, f.summary || ''))));
	if (limit && sorted.length > limit)
		return el('div', null, ul, el('p', null,
			el('a', {href: '#/findings'}, 'All ' + sorted.length +
				' open findings')));
	return ul;
}

/* ---------- hosts ---------- */

async function viewHosts(id, params) {
	const m = page('Hosts');
	const filt = {
		abandoned: params.get('abandoned') === 'true',
		mail: params.get('mail') === 'true',
		status: params.get('status') || '',
		project: params.get('project') || '',
		severity: params.get('severity') || '',
		q: params.get('q') || '',
	};
	const cursor = params.get('cursor') || '';
	const prev = params.getAll('prev');

	const form = el('form', {class: 'filters', role: 'search',
		'aria-label': 'Filter hosts'});
	const cb = (name, label) => {
		const i = el('input', {type: 'checkbox', id: 'f-' + name, name: name,
			checked: filt[name]});
		return el('div', {class: 'field check'}, i,
			el('label', {for: 'f-' + name}, label));
	};
	const sel = (name, label, options) => {
		const s = el('select', {id: 'f-' + name, name: name},
			el('option', {value: ''}, 'any'),
			options.map((o) => el('option', {value: o, selected: o === filt[name]}, o)));
		return el('div', {class: 'field'}, el('label', {for: 'f-' + name}, label), s);
	};
	const q = el('input', {type: 'search', id: 'f-q', name: 'q',
		placeholder: 'hostname, address, agent id'});
	q.value = filt.q;
	const projSel = sel('project', 'Project', filt.project ? [filt.project] : []);
	form.append(
		el('div', {class: 'field grow'}, el('label', {for: 'f-q'}, 'Search'), q),
		sel('status', 'Status', STATUSES),
		projSel,
		sel('severity', 'Severity at least', SEVERITIES.slice(0, 4)),
		cb('abandoned', 'Abandoned'),
		cb('mail', 'Runs mail'),
		el('div', {class: 'field buttons'},
			el('button', {type: 'submit', class: 'btn primary'}, 'Apply'),
			el('a', {href: '#/hosts', class: 'btn'}, 'Reset')));
	on(form, 'submit', (ev) => {
		ev.preventDefault();
		const p = new URLSearchParams();
		for (const k of ['q', 'status', 'project', 'severity'])
			if (form.elements[k].value)
				p.set(k, form.elements[k].value);
		for (const k of ['abandoned', 'mail'])
			if (form.elements[k].checked)
				p.set(k, 'true');
		go('#/hosts' + (p.toString() ? '?' + p : ''));
	});
	/* Checkboxes and selects apply at once; the search box on Enter. */
	for (const k of ['status', 'project', 'severity', 'abandoned', 'mail'])
		on(form.elements[k], 'change', () => form.requestSubmit());
	m.appendChild(form);

	api('/projects' + qs({limit: 1000})).then(guard(id, (d) => {
		const s = form.elements.project;
		for (const p of itemsOf(d))
			if (p.name !== filt.project)
				s.appendChild(el('option', {value: p.name}, p.name));
	}), () => {});

	const apiParams = {limit: PAGE_SIZE, cursor: cursor,
		abandoned: filt.abandoned ? 'true' : '', mail: filt.mail ? 'true' : '',
		status: filt.status, project: filt.project, severity: filt.severity,
		q: filt.q};
	m.appendChild(slot(id, api('/hosts' + qs(apiParams)), (d) => {
		const rows = itemsOf(d);
		const cols = [
			{key: 'hostname', label: 'Host',
				render: (h) => hostLink(h.id, h.hostname)},
			{key: 'project', label: 'Project',
				render: (h) => h.project || el('span', {class: 'muted'}, 'none')},
			{key: 'status', label: 'Status', value: (h) => STATUSES.indexOf(h.status),
				render: (h) => statusBadge(h.status)},
			{key: 'severity', label: 'Worst finding',
				value: (h) => sevRank(h.severity || h.worst_severity),
				render: (h) => sevBadge(h.severity || h.worst_severity)},
			{key: 'mail', label: 'Mail',
				value: (h) => h.mail ? (h.mail.exposed ? 0 : h.mail.running ? 1 : 2) : 2,
				render: (h) => mailCell(h.mail)},
			{key: 'abandoned', label: 'Abandoned', value: (h) => h.abandoned ? 0 : 1,
				render: (h) => h.abandoned ?
					el('span', {class: 'badge warn'}, 'abandoned') :
					el('span', {class: 'muted'}, 'no')},
			{key: 'last_seen', label: 'Last seen',
				value: (h) => -(parseTime(h.last_seen) || 0),
				render: (h) => timeEl(h.last_seen)},
		];
		const total = d && typeof d.total === 'number' ? d.total : rows.length;
		const pager = el('nav', {class: 'pager', 'aria-label': 'Pages'});
		const base = new URLSearchParams(params);
		if (cursor || prev.length) {
			const p = new URLSearchParams(base);
			p.delete('prev');
			p.delete('cursor');
			const stack = prev.slice(0, -1);
			const back = prev.length ? prev[prev.length - 1] : '';
			if (back)
				p.set('cursor', back);
			for (const c of stack)
				p.append('prev', c);
			pager.appendChild(el('a', {class: 'btn', href: '#/hosts?' + p},
				'← Previous'));
		}
		pager.appendChild(el('span', {class: 'muted'},
			rows.length + ' shown of ' + total));
		if (d && d.next_cursor) {
			const p = new URLSearchParams(base);
			p.delete('cursor');
			p.append('prev', cursor);
			p.set('cursor', d.next_cursor);
			pager.appendChild(el('a', {class: 'btn', href: '#/hosts?' + p},
				'Next →'));
		}
		return el('div', null, table(cols, rows, {caption: 'Hosts',
			cls: 'hosts stack', empty: 'No host matches these filters.',
			rowClass: (h) => h.abandoned && h.mail && h.mail.running ?
				'row-alarm' : null}), pager);
	}));
	m.appendChild(slot(id, api('/discovered' + qs({limit: 1000})),
		discoveredBlock));
}

/*
 * The SMTP servers the probe found on its networks that no host reports
 * (GET /discovered): shown only when there are some, so a server without
 * the probe keeps its page as it was.  The banner is the remote server's
 * text: shown as text.
 */
function smtpPorts(r) {
	return (r.ports || []).filter((p) => p.smtp).map((p) => p.port).join(', ');
}

function discoveredBlock(d) {
	const rows = itemsOf(d);
	if (!rows.length)
		return null;
	return section('Mail servers nobody enrolled', table([
		{key: 'address', label: 'Address'},
		{key: 'severity', label: 'Severity', value: (r) => sevRank(r.severity),
			render: (r) => sevBadge(r.severity)},
		{key: 'ports', label: 'Ports', value: smtpPorts,
			render: smtpPorts},
		{key: 'banner', label: 'Banner', render: (r) => el('code', null,
			str(r.banner))},
		{key: 'version', label: 'Version', render: (r) => r.version ?
			el('span', null, r.version, ' ',
				el('span', {class: 'muted'}, '(from the banner, unconfirmed)')) :
			el('span', {class: 'muted'}, 'unknown')},
		{key: 'open_relay', label: 'Open relay', value: (r) => r.open_relay ? 0 : 1,
			render: (r) => r.open_relay === true ?
				el('span', {class: 'badge sev-critical'}, 'open relay') :
				r.open_relay === false ? 'no' :
				el('span', {class: 'muted'}, 'not tested')},
		{key: 'first_seen', label: 'First seen', render: (r) => timeEl(r.first_seen)},
		{key: 'last_seen', label: 'Last seen', render: (r) => timeEl(r.last_seen)},
	], rows, {sort: 'severity', caption: 'Mail servers nobody enrolled',
		cls: 'discovered stack'}));
}

function mailCell(mail) {
	if (!mail || !mail.running)
		return el('span', {class: 'muted'}, 'no');
	return el('span', null, mail.exposed ?
		el('span', {class: 'badge sev-critical'}, 'exposed') :
		el('span', {class: 'badge'}, 'local'),
		mail.mta ? ' ' + mail.mta : '');
}

/* ---------- one host ---------- */

async function viewHost(id, hostId) {
	const m = page('Host ' + hostId);
	const hid = encodeURIComponent(hostId);
	const hostP = api('/hosts/' + hid);
	let host;
	try {
		host = await hostP;
	} catch (e) {
		if (id === state.renderId)
			m.appendChild(errorBox(e));
		return;
	}
	if (id !== state.renderId)
		return;
	document.title = (host.hostname || 'host ' + hostId) + ' — derelict';
	const h1 = m.querySelector('h1');
	clear(h1);
	append(h1, [host.hostname || 'host ' + hostId, ' ',
		statusBadge(host.status),
		host.abandoned ? el('span', {class: 'badge warn'}, 'abandoned') : null,
		host.mail && host.mail.running ? (host.mail.exposed ?
			el('span', {class: 'badge sev-critical'}, 'mail exposed') :
			el('span', {class: 'badge'}, 'runs mail')) : null]);

	if (isAdmin())
		m.appendChild(hostAdminBar(host, hostId));

	m.appendChild(el('div', {class: 'grid2'},
		section('Identity', identityList(host)),
		section('Project', projectBlock(host))));

	const sig = host.signals || [];
	m.appendChild(section('Abandonment signals',
		sig.length ? el('ul', {class: 'signals'}, sig.map((s) =>
			el('li', null, el('strong', {class: 'signal'}, s.signal || str(s)),
				s.evidence ? el('span', null, ' — ', str(s.evidence)) : null,
				s.since ? el('span', {class: 'muted'}, ' (began ',
					timeEl(s.since), ')') : null)))
			: el('p', {class: 'ok'}, 'No abandonment signal.')));

	m.appendChild(section('Mail', mailBlock(host.mail), mailActivity(host.mail)));
	if (host.probe && host.probe.length)
		m.appendChild(section('Seen from derelictd (SMTP probe)',
			probeTable(host.probe)));

	const fs = (host.findings || []).filter((f) => f.status !== 'resolved');
	m.appendChild(section('Findings', findingsTable(fs, () => route())));

	const sub = (name) => sectionAll(hid, name);
	const failed = (name) => collectorNotice(host, name);
	m.appendChild(section('Listening ports', failed('ports'), slot(id, sub('ports'),
		(d) => partial(d, portsTable(itemsOf(d), host)))));
	m.appendChild(section('Services', failed('services'), slot(id, sub('services'), (d) =>
		partial(d, filtered(itemsOf(d), 'services', (r) => r.name, [
			{key: 'name', label: 'Unit'},
			{key: 'active', label: 'Active'},
			{key: 'sub', label: 'State'},
			{key: 'enabled', label: 'Unit file'},
			{key: 'main_pid', label: 'Main pid', value: (r) => num(r.main_pid)},
		], {sort: 'name', caption: 'Services',
			sourceNote: d && d.source ? 'Source: ' + d.source : null})))));
	m.appendChild(section('Processes', failed('processes'), slot(id, sub('processes'), (d) =>
		partial(d, filtered(itemsOf(d), 'processes', (r) => [r.name, r.exe, r.user].join(' '), [
			{key: 'name', label: 'Name'},
			{key: 'exe', label: 'Executable'},
			{key: 'user', label: 'User'},
			{key: 'count', label: 'Count', value: (r) => num(r.count)},
		], {sort: 'name', caption: 'Processes'})))));
	m.appendChild(section('Packages', failed('packages'), slot(id, sub('packages'), (d) =>
		partial(d, packagesBlock(d)))));
	m.appendChild(section('Logins', failed('logins'), slot(id, sub('logins'), (d) =>
		partial(d, loginsBlock(d)))));
	m.appendChild(section('Change history', changesBlock(id, hid)));
}

/*
 * The notice over a section the agent could not read at its last reports:
 * what follows is as last read.  The error is the agent's text: shown as
 * text, like everything else it sends.  null when the section is fine.
 */
function collectorNotice(host, name) {
	const e = (host.collector_errors || []).find((x) => x.section === name);
	if (!e)
		return null;
	return el('p', {class: 'notice collector-error', role: 'status',
		'data-section': name},
		el('strong', null, 'The agent could not read this section'),
		' since ', timeEl(e.since, 'an unknown time'), ': ',
		el('span', {class: 'collector-reason'}, str(e.error || 'no reason given')),
		'. Shown as last read.');
}

function identityList(h) {
	const os = h.os || {};
	const addrs = (h.addresses || []).map((a) =>
		(a.ifname ? a.ifname + ' ' : '') + a.address +
		(a.prefix !== undefined && a.prefix !== null ? '/' + a.prefix : ''));
	const rows = [
		['Host id', h.id],
		['Hostname', h.hostname],
		['FQDN', h.fqdn],
		['Agent id', h.agent_id],
		['Machine id', h.machine_id],
		['OS', os.pretty_name || [os.id, os.version_id].filter(Boolean).join(' ')],
		['Kernel', h.kernel],
		['Architecture', h.arch],
		['Addresses', addrs.length ? addrs.join(', ') : null],
		['Owner (agent tag)', h.owner || h.tag_owner],
		['Booted', h.boot_time ? timeEl(h.boot_time) : null],
		['First seen', h.first_seen ? timeEl(h.first_seen) : null],
		['Last report', timeEl(h.last_seen)],
		['Collected', h.collected_at ? timeEl(h.collected_at) : null],
		['Agent version', h.agent_version],
	];
	return dl(rows);
}

function dl(rows) {
	const d = el('dl', {class: 'kv'});
	for (const [k, v] of rows) {
		if (v === null || v === undefined || v === '')
			continue;
		d.append(el('dt', null, k), el('dd', null, v instanceof Node ? v : str(v)));
	}
	return d;
}

function projectBlock(h) {
	const p = h.project;
	const name = p && typeof p === 'object' ? p.name : p;
	const endsOn = (p && typeof p === 'object' ? p.ends_on : null) ||
		h.project_ends_on || h.ends_on;
	if (!name)
		return el('div', null,
			el('p', {class: 'warn-text'}, 'No project: nobody has claimed this host.'),
			h.tag_project ? el('p', {class: 'muted'}, 'The agent names project ' +
				h.tag_project + ', which is not known here.') : null,
			h.note ? dl([['Note', h.note]]) : null);
	const obj = p && typeof p === 'object' ? p : {};
	return dl([
		['Project', el('a', {href: '#/hosts?project=' + encodeURIComponent(name)},
			name)],
		['Ends on', endDateEl(endsOn)],
		['Owner', obj.owner || h.project_owner],
		['Contact', obj.contact || h.project_contact],
		['Assigned', h.project_pinned ? 'by an operator' :
			(h.tag_project ? 'by the agent\'s tag' : null)],
		['Note', h.note],
	]);
}

/*
 * When each MTA last carried mail and what waits in its queue, from its
 * own log and spool (the agent's mail activity).  The log's times are the
 * agent's; a count the agent cut at its cap says so.  null when the agent
 * sent none.
 */
function mailActivity(mail) {
	const acts = mail && Array.isArray(mail.activity) ? mail.activity : [];
	if (!acts.length)
		return null;
	const lastOf = (a) => [a.last_delivered_at, a.last_received_at]
		.filter(Boolean).sort().pop();
	const plural = (n, one, many) => num(n) + ' ' + (n === 1 ? one : many);
	return el('div', {class: 'mail-activity'}, acts.map((a) => {
		const hasLog = 'log_since' in a;
		const hasQueue = typeof a.queue === 'number';
		const q = [];
		if (hasQueue) {
			q.push(plural(a.queue, 'message', 'messages'));
			if (typeof a.frozen === 'number')
				q.push(num(a.frozen) + ' frozen' +
					(typeof a.frozen_before === 'number' &&
					 a.frozen > a.frozen_before ?
						' (up from ' + num(a.frozen_before) + ')' : ''));
			if (typeof a.deferred === 'number')
				q.push(num(a.deferred) + ' deferred');
			if (typeof a.hold === 'number')
				q.push(num(a.hold) + ' on hold');
		}
		return el('div', {class: 'mail-activity-mta'},
			el('h3', null, 'From ' + (a.source || a.mta || 'the MTA') +
				"'s own log and queue"),
			dl([
			['Last carried mail', hasLog ? (lastOf(a) ?
				el('span', {class: 'mail-last'}, timeEl(lastOf(a))) :
				el('span', {class: 'muted'}, 'nothing in its log since ',
					timeEl(a.log_since, 'its log began'))) : null],
			['Last delivery', hasLog ? timeEl(a.last_delivered_at) : null],
			['Last message received', hasLog ? timeEl(a.last_received_at) : null],
			['Last 90 days', hasLog ? plural(a.received_90d || 0, 'message', 'messages') +
				' received, ' + plural(a.delivered_90d || 0, 'delivery', 'deliveries') +
				(a.log_truncated ? ' (at least: only the end of its log was read)' : '') : null],
			['Queue', hasQueue ? el('span', {class: 'mail-queue'}, q.join(', ') +
				(a.queue_truncated ? ' (at least)' : '')) : null],
		]));
	}));
}

function mailBlock(mail) {
	if (!mail || !mail.running)
		return el('p', {class: 'ok'}, 'No mail service runs here.');
	const ports = (mail.ports || []).map((p) => typeof p === 'object' ?
		(p.address ? p.address + ':' : '') + p.port : String(p));
	return dl([
		['Mail service', 'running'],
		['Exposed', mail.exposed ? el('strong', {class: 'bad-text'},
			'yes — an SMTP port listens on a non-loopback address') : 'no'],
		['MTA', mail.mta],
		['Version', mail.version],
		['SMTP ports', ports.length ? ports.join(', ') : null],
		['Vulnerable', mail.vulnerable ? el('strong', {class: 'bad-text'},
			'yes' + (Array.isArray(mail.cves) && mail.cves.length ?
				' — ' + mail.cves.join(', ') : '')) : null],
	]);
}

/* What the SMTP probe last found at the host's SMTP ports; the banner is
 * the server's text, shown as text. */
function probeTable(rows) {
	return table([
		{key: 'address', label: 'Address'},
		{key: 'port', label: 'Port', value: (r) => num(r.port)},
		{key: 'reachable', label: 'Reachable', value: (r) => r.reachable ? 0 : 1,
			render: (r) => r.reachable ?
				el('span', {class: 'badge sev-critical'}, 'reachable') :
				el('span', {class: 'badge'}, 'not reachable')},
		{key: 'banner', label: 'Banner', render: (r) => r.banner ?
			el('code', null, r.banner) : el('span', {class: 'muted'},
				r.error || '—')},
		{key: 'capabilities', label: 'Capabilities', value: (r) =>
			[r.capabilities, r.auth ? 'AUTH ' + r.auth : ''].join(' ').trim()},
		{key: 'open_relay', label: 'Open relay', value: (r) => r.open_relay ? 0 : 1,
			render: (r) => r.open_relay === true ?
				el('span', {class: 'badge sev-critical'}, 'open relay') :
				r.open_relay === false ? 'no' :
				el('span', {class: 'muted'}, 'not tested')},
		{key: 'probed_at', label: 'Probed', render: (r) => timeEl(r.probed_at)},
	], rows, {sort: 'address', caption: 'SMTP probe'});
}

/* Each port as the server marks it: "exposed" (bound to a non-loopback
 * address), and exposed SMTP when the mail summary says so; where the
 * SMTP probe ran, whether derelictd could reach it. */
function portsTable(items, host) {
	const exposed = (p) => p.exposed === true;
	const mailExposed = (p) => mailExposedPort(host, p);
	return table([
		{key: 'proto', label: 'Proto'},
		{key: 'address', label: 'Address'},
		{key: 'port', label: 'Port', value: (p) => num(p.port)},
		{key: 'exposure', label: 'Exposure',
			value: (p) => mailExposed(p) ? 0 : exposed(p) ? 1 : 2,
			render: (p) => el('span', null, mailExposed(p) ?
				el('span', {class: 'badge sev-critical exposed-mark'},
					'exposed SMTP') :
				exposed(p) ? el('span', {class: 'badge warn exposed-mark'},
					'exposed') : el('span', {class: 'muted'}, 'loopback'),
				p.reachable === true ? ' reachable' :
				p.reachable === false ?
					el('span', {class: 'muted'}, ' not reachable from derelictd') :
				null)},
		{key: 'process', label: 'Process'},
		{key: 'pid', label: 'Pid', value: (p) => num(p.pid),
			render: (p) => p.pid === null || p.pid === undefined ?
				el('span', {class: 'muted'}, '—') : String(p.pid)},
		{key: 'user', label: 'User'},
		{key: 'exe', label: 'Executable'},
	], items, {sort: 'exposure', caption: 'Listening ports',
		empty: 'Nothing listens.',
		rowClass: (p) => mailExposed(p) ? 'row-alarm exposed' :
			exposed(p) ? 'exposed' : null});
}

/*
 * A table with a search box above it; match(row) returns the text the
 * box searches.  Packages add a "vulnerable only" switch.
 */
function filtered(items, name, match, cols, opts) {
	const id = 'search-' + name;
	const box = el('input', {type: 'search', id: id,
		placeholder: 'filter ' + name, autocomplete: 'off'});
	const count = el('span', {class: 'muted count-note', 'aria-live': 'polite'});
	const tbl = table(cols, items, opts);
	const extra = opts.extraFilter;
	const apply = () => {
		const needle = box.value.trim().toLowerCase();
		const rows = items.filter((r) =>
			(!needle || String(match(r)).toLowerCase().includes(needle)) &&
			(!extra || extra.test(r)));
		tbl.setRows(rows);
		count.textContent = rows.length + ' of ' + items.length;
	};
	on(box, 'input', apply);
	const bar = el('div', {class: 'tablebar'},
		el('label', {for: id}, 'Search ' + name), box,
		extra ? extra.control : null, count,
		opts.sourceNote ? el('span', {class: 'muted'}, opts.sourceNote) : null);
	if (extra)
		on(extra.input, 'change', apply);
	apply();
	return el('div', {class: 'filtered', 'data-table': name}, bar, tbl);
}

function vulnsOf(p) {
	const v = p.vulnerabilities || p.cves || [];
	return Array.isArray(v) ? v.map((x) => typeof x === 'object' ?
		(x.cve || x.id || str(x)) : String(x)) : [];
}

function packagesBlock(d) {
	const items = itemsOf(d);
	const onlyVuln = el('input', {type: 'checkbox', id: 'only-vuln'});
	const nVuln = items.filter((p) => vulnsOf(p).length).length;
	const note = d && d.changed_at ?
		el('p', {class: 'muted'}, 'Package database last changed ',
			timeEl(d.changed_at), '.') : null;
	const block = filtered(items, 'packages',
		(p) => [p.name, p.version, p.source, vulnsOf(p).join(' ')].join(' '), [
			{key: 'name', label: 'Package'},
			{key: 'version', label: 'Version'},
			{key: 'arch', label: 'Arch'},
			{key: 'source', label: 'Source', render: (p) =>
				p.source && p.source !== p.name ? p.source +
				(p.source_version && p.source_version !== p.version ?
					' ' + p.source_version : '') : ''},
			{key: 'vulnerabilities', label: 'Vulnerabilities',
				value: (p) => -vulnsOf(p).length,
				render: (p) => {
					const v = vulnsOf(p);
					return v.length ? el('span', {class: 'cves'}, v.map((c) =>
						el('span', {class: 'badge sev-high cve'}, c))) : '';
				}},
		], {sort: 'vulnerabilities', caption: 'Packages',
			rowClass: (p) => vulnsOf(p).length ? 'row-alarm vulnerable' : null,
			extraFilter: {
				input: onlyVuln,
				control: el('span', {class: 'check'}, onlyVuln,
					el('label', {for: 'only-vuln'},
						'vulnerable only (' + nVuln + ')')),
				test: (p) => !onlyVuln.checked || vulnsOf(p).length > 0,
			}});
	return el('div', null, note, block);
}

function loginsBlock(d) {
	const items = itemsOf(d);
	const last = d && d.last;
	return el('div', null, dl([
		['Last interactive login', last ? el('span', null, str(last.user), ' ',
			timeEl(last.at), last.from ? ' from ' + last.from : '') :
			el('span', {class: 'warn-text'}, 'none recorded')],
		['Open sessions', d && d.open_sessions !== undefined ?
			String(d.open_sessions) : null],
		['Source', d && d.source],
	]), table([
		{key: 'user', label: 'User'},
		{key: 'at', label: 'When', value: (r) => -(parseTime(r.at) || 0),
			render: (r) => timeEl(r.at)},
		{key: 'from', label: 'From'},
	], items, {sort: 'at', caption: 'Logins of the last 90 days',
		empty: 'No login in the last 90 days.'}));
}

function changesBlock(id, hid) {
	const holder = el('div');
	const list = el('ol', {class: 'changes'});
	const more = el('button', {type: 'button', class: 'btn'}, 'Older changes');
	let cursor = null;
	let total = 0;
	const load = async () => {
		more.disabled = true;
		try {
			const d = await api('/hosts/' + hid + '/changes' +
				qs({limit: 100, cursor: cursor}));
			if (id !== state.renderId)
				return;
			const items = itemsOf(d);
			total += items.length;
			for (const c of items)
				list.appendChild(changeItem(c));
			cursor = d && d.next_cursor;
			if (!total)
				holder.replaceChildren(el('p', {class: 'muted'},
					'No change recorded yet.'));
			more.hidden = !cursor;
		} catch (e) {
			holder.appendChild(errorBox(e));
			more.hidden = true;
		} finally {
			more.disabled = false;
		}
	};
	on(more, 'click', load);
	holder.append(list, more);
	more.hidden = true;
	load();
	return holder;
}

/* A changes_truncated row stands for the changes a history budget left
 * out of one report (limit "report") or of the rest of a day ("day"). */
function truncatedItem(c) {
	const n = c.new || {};
	const num = (v) => Number(v) || 0;
	return el('li', null, timeEl(c.at), ' ',
		el('span', {class: 'badge act-truncated'}, 'not itemised'), ' ',
		el('span', {class: 'section-name'}, c.section || ''), ' ',
		num(n.not_itemised) + ' more changes (' + num(n.added) +
		' added, ' + num(n.removed) + ' removed, ' + num(n.changed) +
		' changed) beyond the history budget ' +
		(n.limit === 'day' ? 'for the day' : 'of one report') +
		'; the section itself is stored in full.');
}

function changeItem(c) {
	if (c.action === 'changes_truncated')
		return truncatedItem(c);
	const act = cls(c.action || 'changed');
	const body = [el('span', {class: 'badge act-' + act}, c.action || 'changed'),
		' ', el('span', {class: 'section-name'}, c.section || ''), ' ',
		el('code', null, str(c.key))];
	if (c.action === 'changed' || (c.old !== undefined && c.new !== undefined &&
		c.old !== null && c.new !== null))
		body.push(': ', el('code', {class: 'old'}, str(c.old)), ' → ',
			el('code', {class: 'new'}, str(c.new)));
	else if (c.new !== undefined && c.new !== null)
		body.push(': ', el('code', null, str(c.new)));
	else if (c.old !== undefined && c.old !== null)
		body.push(': ', el('code', {class: 'old'}, str(c.old)));
	return el('li', null, timeEl(c.at), ' ', body);
}

function findingsTable(findings, after, withHost) {
	const cols = [
		{key: 'severity', label: 'Severity', value: (f) => sevRank(f.severity),
			render: (f) => sevBadge(f.severity)},
	];
	if (withHost)
		cols.push({key: 'hostname', label: 'Host',
			render: (f) => hostLink(f.host_id, f.hostname)});
	cols.push(
		{key: 'rule', label: 'Rule', render: (f) => el('code', null, str(f.rule))},
		{key: 'summary', label: 'Why', cls: 'wide'},
		{key: 'status', label: 'Status', render: (f) => el('span', null,
			str(f.status), f.ack && f.ack.until ? ' until ' + f.ack.until : '',
			f.acknowledged_until ? ' until ' + f.acknowledged_until : '')},
		{key: 'first_seen', label: 'Since', value: (f) => -(parseTime(f.first_seen) || 0),
			render: (f) => timeEl(f.first_seen)},
		{key: 'last_seen', label: 'Last seen', value: (f) => -(parseTime(f.last_seen) || 0),
			render: (f) => timeEl(f.last_seen)},
		{key: 'details', label: 'Details', sortable: false,
			render: (f) => detailsText(f.details)});
	if (isAdmin())
		cols.push({key: 'actions', label: 'Actions', sortable: false,
			render: (f) => f.status === 'open' || !f.status ?
				on(el('button', {type: 'button', class: 'btn small ack',
					'data-finding': f.id},
				'Acknowledge'), 'click', () => ackDialog(f, after)) : ''});
	return table(cols, findings, {sort: 'severity', caption: 'Findings',
		empty: 'No finding.', cls: 'findings-table stack',
		rowClass: (f) => f.status && f.status !== 'open' ? 'quiet' : null});
}

/*
 * details is free-form per rule: CVE ids are shown at once, the rest
 * folds into a <details> element so the table stays readable.
 */
function detailsText(d) {
	if (d === null || d === undefined || d === '')
		return '';
	if (typeof d !== 'object')
		return String(d);
	if (Array.isArray(d))
		return d.map(str).join(', ');
	const cves = [].concat(d.cves || d.cve || d.vulnerabilities || [])
		.map((c) => typeof c === 'object' && c ? (c.cve || c.id || str(c)) : str(c))
		.filter(Boolean);
	const rows = [];
	const evidence = advisoryEvidence(d);
	for (const [k, v] of Object.entries(d)) {
		if (evidence && k === 'advisories')
			continue;
		if (v === null || v === undefined || v === '' ||
			(Array.isArray(v) && !v.length))
			continue;
		rows.push([k, Array.isArray(v) ? v.map((x) => typeof x === 'object' ?
			compact(x) : str(x)).join(', ') : (typeof v === 'object' ?
			compact(v) : str(v))]);
	}
	return el('span', {class: 'details'},
		cves.length ? el('span', {class: 'cves'}, cves.map((c) =>
			el('span', {class: 'badge sev-high cve'}, c))) : null,
		d.remedy ? el('p', {class: 'remedy'}, el('strong', null, 'To do: '),
			str(d.remedy)) : null,
		evidence,
		rows.length ? el('details', null, el('summary', null, 'more'),
			dl(rows)) : null);
}

/* vulnerable-mta: each CVE with its fix for the host's release, the
   advisory, the urgency and where the data came from, and when. */
function advisoryEvidence(d) {
	const list = Array.isArray(d.advisories) ? d.advisories.filter((a) =>
		a && typeof a === 'object' && a.cve) : [];
	if (!list.length)
		return null;
	return el('details', {class: 'evidence'},
		el('summary', null, 'evidence (' + list.length + ' CVE' +
			(list.length > 1 ? 's' : '') + ')'),
		el('table', {class: 'evidence'},
			el('thead', null, el('tr', null, ['CVE', 'Fixed in', 'Advisory',
				'Urgency', 'Data'].map((h) => el('th', {scope: 'col'}, h)))),
			el('tbody', null, list.map((a) => el('tr', null,
				el('td', null, str(a.cve),
					a.confirmed === false ? el('span', {class: 'muted'},
						' (unconfirmed)') : null,
					a.minor ? el('span', {class: 'muted'},
						' (minor: ' + str(a.nodsa) + ')') : null),
				el('td', null, a.fixed_version ? str(a.fixed_version) :
					a.no_fix ? 'no fix yet' : '—'),
				el('td', null, a.advisory ? str(a.advisory) : '—'),
				el('td', null, a.urgency ? str(a.urgency) : str(a.severity)),
				el('td', null, a.source ? str(a.source) +
					(a.data_date ? ', ' + str(a.data_date) : '') : '—'))))));
}

/* {"address": "0.0.0.0", "port": 25} -> "address 0.0.0.0, port 25" */
function compact(o) {
	if (!o || typeof o !== 'object')
		return str(o);
	return Object.entries(o).filter(([, v]) => v !== null && v !== '')
		.map(([k, v]) => k + ' ' + (typeof v === 'object' ? JSON.stringify(v) :
			String(v))).join(', ');
}

function ackDialog(f, after) {
	formDialog('Acknowledge finding', [
		{name: 'what', label: 'Finding', value: (f.hostname || '') + ': ' +
			(f.summary || f.rule), readonly: true},
		{name: 'reason', label: 'Reason', type: 'textarea', required: true},
		{name: 'until', label: 'Until (optional)', type: 'date',
			help: 'The finding opens again after this date.'},
	], 'Acknowledge', async (v) => {
		const body = {reason: v.reason.trim()};
		if (v.until)
			body.until = v.until;
		await api('/findings/' + encodeURIComponent(f.id) + '/ack',
			{method: 'POST', body: body});
		toast('Finding acknowledged.');
		after();
	});
}

function hostAdminBar(host, hostId) {
	const hid = encodeURIComponent(hostId);
	const curProject = host.project && typeof host.project === 'object' ?
		host.project.name : host.project;
	const assign = el('button', {type: 'button', class: 'btn', id: 'assign-project'},
		'Assign project');
	on(assign, 'click', async () => {
		let projects = [];
		try {
			projects = await apiAll('/projects', {}, 2000);
		} catch (e) {
			toast(e.message, true);
			return;
		}
		formDialog('Assign a project', [
			{name: 'project', label: 'Project', type: 'select',
				value: curProject || '',
				options: [['', '(none)']].concat(projects.map((p) =>
					[p.name, p.name + (p.ends_on ? ' (ends ' + p.ends_on + ')' : '')]))},
			{name: 'note', label: 'Note'},
		], 'Save', async (v) => {
			const body = {project: v.project || null};
			if (v.note)
				body.note = v.note;
			await api('/hosts/' + hid, {method: 'PATCH', body: body});
			toast('Project saved.');
			route();
		});
	});
	const bar = el('div', {class: 'adminbar', role: 'group',
		'aria-label': 'Admin actions'}, assign);
	if (host.status !== 'retired' && !host.retired) {
		const retire = el('button', {type: 'button', class: 'btn danger',
			id: 'retire-host'}, 'Retire host');
		on(retire, 'click', () => formDialog('Retire ' + (host.hostname || 'host'),
			[{name: 'note', label: 'Note', help: 'Why it is retired; kept in history.'}],
			'Retire', async (v) => {
				const body = {retired: true};
				if (v.note)
					body.note = v.note;
				await api('/hosts/' + hid, {method: 'PATCH', body: body});
				toast('Host retired. If it still reports, a finding opens.');
				route();
			}, 'A retired host is expected to be switched off. If it keeps reporting, derelict raises a finding.'));
		bar.appendChild(retire);
	}
	return bar;
}

/* ---------- findings ---------- */

async function viewFindings(id, params) {
	const m = page('Findings');
	const filt = {
		status: params.has('status') ? params.get('status') : 'open',
		severity: params.get('severity') || '',
		rule: params.get('rule') || '',
	};
	const form = el('form', {class: 'filters', 'aria-label': 'Filter findings'});
	const mk = (name, label, opts) => el('div', {class: 'field'},
		el('label', {for: 'ff-' + name}, label),
		el('select', {id: 'ff-' + name, name: name},
			opts.map(([v, t]) => el('option', {value: v, selected: v === filt[name]}, t))));
	form.append(
		mk('status', 'Status', [['open', 'open'], ['acknowledged', 'acknowledged'],
			['resolved', 'resolved'], ['', 'any']]),
		mk('severity', 'Severity', [['', 'any']].concat(
			SEVERITIES.slice(0, 4).map((s) => [s, s]))),
		mk('rule', 'Rule', [['', 'any']].concat([
			'abandoned-mail-service', 'vulnerable-mta', 'retired-host-reporting',
			'silent-host', 'project-ended', 'unowned-host',
			'collector-failing', 'host-identity-changed'].map((r) => [r, r]))));
	const apply = () => {
		const p = new URLSearchParams();
		for (const k of ['status', 'severity', 'rule'])
			p.set(k, form.elements[k].value);
		go('#/findings?' + p);
	};
	for (const k of ['status', 'severity', 'rule'])
		on(form.elements[k], 'change', apply);
	on(form, 'submit', (ev) => { ev.preventDefault(); apply(); });
	m.appendChild(form);
	m.appendChild(slot(id, apiAll('/findings', filt, 5000), (items) =>
		findingsTable(items, () => route(), true)));
}

/* ---------- projects ---------- */

async function viewProjects(id) {
	const m = page('Projects');
	const holder = el('div');
	if (isAdmin()) {
		const add = el('button', {type: 'button', class: 'btn primary',
			id: 'new-project'}, 'New project');
		on(add, 'click', () => projectDialog(null));
		m.appendChild(el('div', {class: 'adminbar'}, add));
	}
	m.appendChild(holder);
	holder.appendChild(slot(id, apiAll('/projects', {}, 5000), (items) => {
		const cols = [
			{key: 'name', label: 'Project', render: (p) => el('a',
				{href: '#/hosts?project=' + encodeURIComponent(p.name)}, p.name)},
			{key: 'ends_on', label: 'Ends on', value: (p) => p.ends_on || '9999',
				render: (p) => endDateEl(p.ends_on)},
			{key: 'hosts', label: 'Hosts', value: (p) => num(p.hosts),
				render: (p) => el('a', {href: '#/hosts?project=' +
					encodeURIComponent(p.name)}, String(num(p.hosts)))},
			{key: 'owner', label: 'Owner'},
			{key: 'contact', label: 'Contact'},
			{key: 'description', label: 'Description', cls: 'wide'},
		];
		if (isAdmin())
			cols.push({key: 'actions', label: 'Actions', sortable: false,
				render: (p) => el('span', {class: 'row-actions'},
					on(el('button', {type: 'button', class: 'btn small edit',
						'data-project': p.name}, 'Edit'),
					'click', () => projectDialog(p)),
					p.ends_on && p.ends_on < todayUTC() ? null :
						on(el('button', {type: 'button', class: 'btn small end',
							'data-project': p.name}, 'End'),
						'click', () => endProject(p)),
					on(el('button', {type: 'button', class: 'btn small danger delete',
						'data-project': p.name}, 'Delete'),
					'click', () => deleteProject(p)))});
		return table(cols, items, {sort: 'ends_on', caption: 'Projects',
			cls: 'projects stack', empty: 'No project yet.',
			rowClass: (p) => p.ends_on && p.ends_on < todayUTC() ? 'ended-row' : null});
	}));
}

function projectDialog(p) {
	const editing = !!p;
	p = p || {};
	const fields = [
		{name: 'name', label: 'Name', value: p.name, required: true,
			readonly: editing},
		{name: 'ends_on', label: 'Ends on', type: 'date', value: p.ends_on,
			help: 'After this date its hosts count as abandoned.'},
		{name: 'owner', label: 'Owner', value: p.owner},
		{name: 'contact', label: 'Contact', value: p.contact},
		{name: 'description', label: 'Description', type: 'textarea',
			value: p.description},
	];
	formDialog(editing ? 'Edit project ' + p.name : 'New project', fields,
		editing ? 'Save' : 'Create', async (v) => {
			const body = {
				ends_on: v.ends_on || null,
				owner: v.owner || null,
				contact: v.contact || null,
				description: v.description || null,
			};
			if (editing) {
				await api('/projects/' + encodeURIComponent(p.name),
					{method: 'PATCH', body: body});
			} else {
				body.name = v.name.trim();
				await api('/projects', {method: 'POST', body: body});
			}
			toast(editing ? 'Project saved.' : 'Project created.');
			route();
		});
}

function endProject(p) {
	const day = todayUTC(-1);
	confirmDialog('End project ' + p.name,
		'Sets its end date to ' + day + '. Hosts still assigned to it count ' +
		'as abandoned from now on.', 'End project', async () => {
			await api('/projects/' + encodeURIComponent(p.name),
				{method: 'PATCH', body: {ends_on: day}});
			toast('Project ended.');
			route();
		});
}

function deleteProject(p) {
	confirmDialog('Delete project ' + p.name,
		'Its ' + plural(num(p.hosts), 'host') + ' will have no project.',
		'Delete', async () => {
			await api('/projects/' + encodeURIComponent(p.name),
				{method: 'DELETE'});
			toast('Project deleted.');
			route();
		});
}

/* ---------- routing ---------- */

function go(hash) {
	if (location.hash === hash)
		route();
	else
		location.hash = hash;
}

function parseHash() {
	const h = location.hash.replace(/^#/, '') || '/';
	const qi = h.indexOf('?');
	const path = qi < 0 ? h : h.slice(0, qi);
	const params = new URLSearchParams(qi < 0 ? '' : h.slice(qi + 1));
	const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
	return {parts, params};
}

function markNav(name) {
	for (const a of document.querySelectorAll('nav a[data-route]')) {
		if (a.dataset.route === name)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
}

let lastRoute = '';
function route() {
	const id = ++state.renderId;
	const {parts, params} = parseHash();
	const where = parts[0] || '';
	let p;
	if (where === '' || where === 'overview') {
		markNav('overview');
		p = viewOverview(id);
	} else if (where === 'hosts') {
		markNav('hosts');
		p = viewHosts(id, params);
	} else if (where === 'host' && parts[1]) {
		markNav('hosts');
		p = viewHost(id, parts[1]);
	} else if (where === 'findings') {
		markNav('findings');
		p = viewFindings(id, params);
	} else if (where === 'projects') {
		markNav('projects');
		p = viewProjects(id);
	} else {
		markNav('');
		page('Not found', el('p', null, 'No such page. ',
			el('a', {href: '#/'}, 'Go to the overview.')));
		p = Promise.resolve();
	}
	/* Move focus to the new content only on real navigation. */
	const key = where + '/' + (parts[1] || '');
	if (lastRoute && key !== lastRoute)
		mainEl().focus({preventScroll: false});
	lastRoute = key;
	p.catch((e) => {
		if (id === state.renderId)
			mainEl().appendChild(errorBox(e));
	}).finally(() => {
		if (id === state.renderId)
			document.body.dataset.ready = String(id);
	});
}

async function start() {
	try {
		state.me = await api('/whoami');
	} catch (e) {
		state.me = {name: '', role: 'viewer'};
	}
	const who = document.getElementById('who');
	who.textContent = (state.me.name || 'signed in') + ' · ' + (state.me.role || '');
	document.body.classList.toggle('admin', isAdmin());
	window.addEventListener('hashchange', route);
	route();
}

start();

})();
