'use strict';
/*
 * mock-server.js - a stand-in for derelictd's HTTP side, for working on the
 * web page without the C server: serves server/web/ with the same CSP and
 * auth rules and answers the API from a small in-memory fleet shaped like
 * SPEC §5.  The real suite (run.sh) never uses it.
 *
 *   node mock-server.js PORT   (admin token "admin", viewer token "viewer")
 */
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const WEB = path.join(__dirname, '..', '..', 'server', 'web');
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'";
const TOKENS = {admin: 'admin', viewer: 'viewer'};

const now = Date.now();
const iso = (msAgo) => new Date(now - msAgo).toISOString().replace(/\.\d+Z$/, 'Z');
const DAY = 86400000;

const projects = new Map([
	['e2e-mail', {name: 'e2e-mail', owner: 'alice', contact: 'alice@example.com',
		ends_on: '2099-12-31', description: 'Mail relay of a finished project'}],
	['billing', {name: 'billing', owner: 'bob', contact: 'bob@example.com',
		ends_on: '2099-12-31', description: 'Billing backend'}],
]);
const hosts = [
	{id: 1, agent_id: '5c6f1e7a-0000-4000-8000-000000000001', hostname: 'dev-portal-03',
		project: 'e2e-mail', status: 'active', last_seen: iso(120000),
		first_seen: iso(400 * DAY), abandoned: true,
		mail: {running: true, exposed: true, mta: 'exim4', ports: [25]},
		severity: 'critical',
		os: {id: 'debian', version_id: '10', codename: 'buster',
			pretty_name: 'Debian GNU/Linux 10 (buster)'},
		kernel: '4.19.0-6-amd64', arch: 'x86_64', fqdn: 'dev-portal-03.example.com',
		addresses: [{ifname: 'eth0', address: '203.0.113.5', prefix: 24}],
		signals: [{signal: 'project-ended', evidence: 'project acme-portal ended on 2025-03-31'},
			{signal: 'idle', evidence: 'last interactive login 2025-01-10 by alice'}]},
	{id: 2, agent_id: '5c6f1e7a-0000-4000-8000-000000000002',
		hostname: '<img src=x onerror=alert(1)>', project: null, status: 'silent',
		last_seen: iso(3 * DAY), abandoned: false, mail: {running: false, exposed: false},
		severity: 'medium', signals: []},
	{id: 3, agent_id: '5c6f1e7a-0000-4000-8000-000000000003', hostname: 'billing-db-1',
		project: 'billing', status: 'active', last_seen: iso(30000), abandoned: false,
		mail: {running: true, exposed: false, mta: 'postfix', ports: [25]}, severity: null,
		signals: []},
];
for (let i = 4; i < 70; i++)
	hosts.push({id: i, agent_id: 'agent-' + i, hostname: 'web-' + String(i).padStart(3, '0'),
		project: 'billing', status: i % 9 ? 'active' : 'retired', last_seen: iso(i * 3600000),
		abandoned: false, mail: {running: false, exposed: false}, severity: i % 5 ? null : 'low',
		signals: []});
let findings = [
	{id: 11, host_id: 1, hostname: 'dev-portal-03', rule: 'abandoned-mail-service',
		severity: 'critical', status: 'resolved',
		summary: 'dev-portal-03 is abandoned (project acme-portal ended 2025-03-31) and runs exim4 on 0.0.0.0:25.',
		first_seen: iso(200 * DAY), last_seen: iso(60000), details: {mta: 'exim4', ports: [25]}},
	{id: 12, host_id: 1, hostname: 'dev-portal-03', rule: 'vulnerable-mta', severity: 'critical',
		status: 'open', summary: 'exim4 4.92-8+deb10u2 is vulnerable to CVE-2019-15846 and is exposed.',
		first_seen: iso(200 * DAY), last_seen: iso(60000), details: {cves: ['CVE-2019-15846']}},
	{id: 13, host_id: 2, hostname: '<img src=x onerror=alert(1)>', rule: 'silent-host',
		severity: 'medium', status: 'open', summary: 'No report for 3 days.',
		first_seen: iso(DAY), last_seen: iso(60000), details: null},
	{id: 14, host_id: 1, hostname: 'dev-portal-03', rule: 'project-ended', severity: 'medium',
		status: 'open', summary: 'Project acme-portal ended on 2025-03-31.',
		first_seen: iso(200 * DAY), last_seen: iso(60000), details: null},
];

function send(res, code, body, headers) {
	const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
	res.writeHead(code, Object.assign({'Content-Security-Policy': CSP,
		'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff'},
	headers || {}));
	res.end(data);
}
const err = (res, code, c, m) => send(res, code, {error: {code: c, message: m}});

function auth(req) {
	const h = req.headers.authorization || '';
	let tok = null;
	if (h.startsWith('Bearer '))
		tok = h.slice(7);
	else if (h.startsWith('Basic ')) {
		const d = Buffer.from(h.slice(6), 'base64').toString();
		tok = d.slice(d.indexOf(':') + 1);
	}
	return tok && TOKENS[tok] ? {name: tok, role: TOKENS[tok]} : null;
}

function list(items, q) {
	const limit = Math.min(Number(q.get('limit')) || 100, 1000);
	const start = Number(q.get('cursor')) || 0;
	const page = items.slice(start, start + limit);
	return {items: page, total: items.length,
		next_cursor: start + limit < items.length ? String(start + limit) : null};
}

function body(req) {
	return new Promise((ok) => {
		let b = '';
		req.on('data', (c) => { b += c; });
		req.on('end', () => { try { ok(JSON.parse(b || '{}')); } catch (e) { ok(null); } });
	});
}

/* The one rule the mock knows: host 1 is abandoned once its project ended. */
let acked = false;
function evaluate() {
	const pr = projects.get(hosts[0].project);
	const ended = !!(pr && pr.ends_on && pr.ends_on < new Date().toISOString().slice(0, 10));
	hosts[0].abandoned = ended;
	hosts[0].signals = ended ? [{signal: 'project-ended',
		evidence: 'project ' + pr.name + ' ended on ' + pr.ends_on}] : [];
	findings[0].status = ended ? (acked ? 'acknowledged' : 'open') : 'resolved';
}

const server = http.createServer(async (req, res) => {
	evaluate();
	const u = new URL(req.url, 'http://x');
	const p = u.pathname;
	const q = u.searchParams;
	if (p === '/healthz')
		return send(res, 200, 'ok\n', {'Content-Type': 'text/plain'});
	const me = auth(req);
	if (!me) {
		if (p.startsWith('/api/'))
			return send(res, 401, {error: {code: 'unauthorized', message: 'token required'}},
				{'WWW-Authenticate': 'Basic realm="derelict"'});
		return send(res, 401, 'unauthorized\n', {'Content-Type': 'text/plain',
			'WWW-Authenticate': 'Basic realm="derelict"'});
	}
	if (p === '/' || p.startsWith('/static/')) {
		const name = p === '/' ? 'index.html' : path.basename(p);
		const f = path.join(WEB, name);
		if (!fs.existsSync(f))
			return err(res, 404, 'not_found', 'no such file');
		const types = {html: 'text/html; charset=utf-8', js: 'text/javascript',
			css: 'text/css', svg: 'image/svg+xml'};
		return send(res, 200, fs.readFileSync(f),
			{'Content-Type': types[name.split('.').pop()] || 'application/octet-stream'});
	}
	const write = req.method !== 'GET';
	if (write && me.role !== 'admin')
		return err(res, 403, 'forbidden', 'admin token required');
	let m;
	if (p === '/api/v1/whoami')
		return send(res, 200, me);
	if (p === '/api/v1/summary') {
		const open = findings.filter((f) => f.status === 'open');
		const sev = {critical: 0, high: 0, medium: 0, low: 0};
		for (const f of open)
			sev[f.severity]++;
		const over = [];
		for (let d = 29; d >= 0; d--)
			over.push({date: new Date(now - d * DAY).toISOString().slice(0, 10),
				open: 2 + (d % 4), critical: d < 10 ? 2 : 1, high: d % 3, medium: 1, low: 0});
		return send(res, 200, {hosts: hosts.length,
			abandoned: hosts.filter((h) => h.abandoned).length,
			mail: hosts.filter((h) => h.mail.running).length,
			exposed: hosts.filter((h) => h.mail.exposed).length,
			silent: hosts.filter((h) => h.status === 'silent').length,
			retired: hosts.filter((h) => h.status === 'retired').length,
			findings: sev,
			status: {active: hosts.filter((h) => h.status === 'active').length,
				silent: hosts.filter((h) => h.status === 'silent').length,
				retired: hosts.filter((h) => h.status === 'retired').length},
			findings_over_time: over});
	}
	if (p === '/api/v1/hosts') {
		let hs = hosts;
		if (q.get('abandoned') === 'true') hs = hs.filter((h) => h.abandoned);
		if (q.get('mail') === 'true') hs = hs.filter((h) => h.mail.running);
		if (q.get('status')) hs = hs.filter((h) => h.status === q.get('status'));
		if (q.get('project')) hs = hs.filter((h) => h.project === q.get('project'));
		if (q.get('severity')) hs = hs.filter((h) => h.severity === q.get('severity'));
		if (q.get('q')) hs = hs.filter((h) => h.hostname.includes(q.get('q')));
		return send(res, 200, list(hs, q));
	}
	if ((m = p.match(/^\/api\/v1\/hosts\/(\d+)$/))) {
		const h = hosts.find((x) => x.id === Number(m[1]));
		if (!h)
			return err(res, 404, 'not_found', 'no such host');
		if (req.method === 'PATCH') {
			const b = await body(req);
			if ('project' in b) h.project = b.project;
			if (b.retired) h.status = 'retired';
			return send(res, 200, h);
		}
		const pr = h.project ? projects.get(h.project) : null;
		return send(res, 200, Object.assign({}, h, {
			project: h.project, project_ends_on: pr ? pr.ends_on : null,
			findings: findings.filter((f) => f.host_id === h.id && f.status === 'open')}));
	}
	if ((m = p.match(/^\/api\/v1\/hosts\/(\d+)\/(\w+)$/))) {
		const id = Number(m[1]);
		const what = m[2];
		const x = id === 2 ? '<img src=x onerror=alert(2)>' : 'exim4';
		const data = {
			ports: [{proto: 'tcp', address: '0.0.0.0', port: 25, pid: 812, process: x,
				exe: '/usr/sbin/exim4', user: 'Debian-exim'},
			{proto: 'tcp', address: '127.0.0.1', port: 587, pid: 812, process: 'exim4',
				exe: '/usr/sbin/exim4', user: 'Debian-exim'},
			{proto: 'tcp', address: '::', port: 22, pid: 501, process: 'sshd',
				exe: '/usr/sbin/sshd', user: 'root'},
			{proto: 'udp', address: '127.0.0.53', port: 53, pid: null, process: null,
				exe: null, user: null}],
			services: [{name: 'exim4.service', active: 'active', sub: 'running',
				enabled: 'enabled', main_pid: 812},
			{name: 'ssh.service', active: 'active', sub: 'running', enabled: 'enabled', main_pid: 501}],
			processes: [{name: x, exe: '/usr/sbin/exim4', user: 'Debian-exim', count: 1},
				{name: 'sshd', exe: '/usr/sbin/sshd', user: 'root', count: 3}],
			packages: [{name: 'exim4-daemon-light', version: '4.92-8+deb10u2', arch: 'amd64',
				source: 'exim4', source_version: '4.92-8+deb10u2',
				vulnerabilities: ['CVE-2019-15846', 'CVE-2019-16928']},
			{name: 'openssh-server', version: '1:7.9p1-10+deb10u2', arch: 'amd64',
				source: 'openssh', source_version: '1:7.9p1-10+deb10u2'},
			{name: 'bash', version: '5.0-4', arch: 'amd64', source: 'bash', source_version: '5.0-4'}],
			logins: [{user: 'alice', at: iso(300 * DAY), from: '198.51.100.7'}],
			changes: [{at: iso(DAY), section: 'ports', key: 'tcp 0.0.0.0:25', action: 'added',
				old: null, new: {process: 'exim4'}},
			{at: iso(2 * DAY), section: 'packages', key: 'bash', action: 'changed',
				old: '5.0-3', new: '5.0-4'}],
		}[what];
		if (!data)
			return err(res, 404, 'not_found', 'no such section');
		const out = list(data, q);
		if (what === 'logins') Object.assign(out, {source: 'wtmp', open_sessions: 0,
			last: {user: 'alice', at: iso(300 * DAY), from: '198.51.100.7'}});
		if (what === 'packages') out.changed_at = iso(400 * DAY);
		return send(res, 200, out);
	}
	if (p === '/api/v1/findings') {
		let fs2 = findings;
		for (const k of ['status', 'rule', 'severity'])
			if (q.get(k)) fs2 = fs2.filter((f) => f[k] === q.get(k));
		if (q.get('host')) fs2 = fs2.filter((f) => String(f.host_id) === q.get('host'));
		return send(res, 200, list(fs2, q));
	}
	if ((m = p.match(/^\/api\/v1\/findings\/(\d+)\/ack$/)) && req.method === 'POST') {
		const f = findings.find((x) => x.id === Number(m[1]));
		const b = await body(req);
		if (!f) return err(res, 404, 'not_found', 'no such finding');
		if (!b || !b.reason) return err(res, 422, 'missing_field', 'reason is required');
		f.status = 'acknowledged';
		if (f.id === 11)
			acked = true;
		return send(res, 200, f);
	}
	if (p === '/api/v1/projects') {
		if (req.method === 'POST') {
			const b = await body(req);
			if (!b || !b.name) return err(res, 422, 'missing_field', 'name is required');
			projects.set(b.name, Object.assign({owner: null, contact: null, ends_on: null,
				description: null}, b));
			return send(res, 201, projects.get(b.name));
		}
		const items = [...projects.values()].map((pr) => Object.assign({}, pr,
			{hosts: hosts.filter((h) => h.project === pr.name).length}));
		return send(res, 200, list(items, q));
	}
	if ((m = p.match(/^\/api\/v1\/projects\/([^/]+)$/))) {
		const name = decodeURIComponent(m[1]);
		const pr = projects.get(name);
		if (!pr) return err(res, 404, 'not_found', 'no such project');
		if (req.method === 'PATCH') {
			Object.assign(pr, await body(req));
			return send(res, 200, pr);
		}
		if (req.method === 'DELETE') {
			projects.delete(name);
			return send(res, 204, '');
		}
		return send(res, 200, pr);
	}
	return err(res, 404, 'not_found', 'no such endpoint');
});

server.listen(Number(process.argv[2] || 8471), '127.0.0.1', () =>
	console.log('mock derelictd on http://127.0.0.1:' + server.address().port));
