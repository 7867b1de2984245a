'use strict';
/*
 * web.test.js - derelictd's web page in a real Chromium, against a real
 * derelictd seeded by real agent runs (see ../run.sh, which sets E2E_*).
 *
 * The tests run in order and share one server: the project is ended, the
 * finding it raises is followed to its host and then acknowledged.
 */
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {chromium} = require('playwright-core');

const BASE = must('E2E_BASE');
const ADMIN = must('E2E_ADMIN');
const VIEWER = must('E2E_VIEWER');
const PROJECT = process.env.E2E_PROJECT || 'e2e-mail';
const OUT = process.env.E2E_OUT || path.join(__dirname, '..', 'out');
const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const ORIGIN = new URL(BASE).host;
const HISTORY_HOST = process.env.E2E_HISTORY_HOST || 'e2e-history';
const XSS_HOST = '<img src=x onerror=alert(1)>';
const XSS_PROC = '<img src=x onerror=alert(2)>';
const DESKTOP = {width: 1280, height: 800};
const PHONE = {width: 390, height: 844};

function must(name) {
	const v = process.env[name];
	if (!v)
		throw new Error(name + ' is not set; run tests/e2e/run.sh');
	return v;
}

/* Problems seen by any page, checked by the last test. */
const consoleErrors = [];
const foreignRequests = [];
const dialogs = [];

let browser;

async function api(method, p, token, body) {
	const res = await fetch(BASE + '/api/v1' + p, {
		method,
		headers: Object.assign({Authorization: 'Bearer ' + token},
			body ? {'Content-Type': 'application/json'} : {}),
		body: body ? JSON.stringify(body) : undefined,
	});
	const text = await res.text();
	let json = null;
	try {
		json = text ? JSON.parse(text) : null;
	} catch (e) {
		json = null;
	}
	return {status: res.status, json};
}

async function apiOk(p, token) {
	const r = await api('GET', p, token || ADMIN);
	assert.equal(r.status, 200, 'GET ' + p + ' answered ' + r.status);
	return r.json;
}

/*
 * A browser context that logs in with the browser's own Basic-auth
 * mechanism, refuses every request to another origin, and records console
 * errors, page errors and dialogs (an alert() would be injected markup).
 */
async function newPage(token, viewport) {
	const ctx = await browser.newContext({
		viewport: viewport || DESKTOP,
		httpCredentials: {username: 'e2e', password: token},
		serviceWorkers: 'block',
	});
	await ctx.route('**/*', (route) => {
		const u = route.request().url();
		let host = null;
		try {
			host = new URL(u).host;
		} catch (e) {
			host = null;
		}
		if (host === ORIGIN)
			return route.continue();
		foreignRequests.push(u);
		return route.abort();
	});
	const page = await ctx.newPage();
	page.on('console', (m) => {
		if (m.type() === 'error')
			consoleErrors.push(m.text() + ' at ' + page.url());
	});
	page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
	page.on('dialog', (d) => {
		dialogs.push(d.type() + ': ' + d.message());
		d.dismiss().catch(() => {});
	});
	return page;
}

/* Opens a route of the page and waits until its requests have settled. */
async function open(page, hash, selector) {
	await page.goto(BASE + '/' + hash);
	if (selector)
		await page.waitForSelector(selector);
	await settle(page);
}

async function settle(page) {
	await page.waitForFunction(() => document.body.dataset.busy === '0' &&
		!document.querySelector('main .slot > p.muted'));
}

function dateUTC(offsetDays) {
	return new Date(Date.now() + offsetDays * 86400000).toISOString().slice(0, 10);
}

async function mailHost() {
	const d = await apiOk('/hosts?project=' + encodeURIComponent(PROJECT));
	assert.ok(d.items.length >= 1, 'the mail host is in project ' + PROJECT);
	return d.items[0];
}

async function xssHost() {
	const d = await apiOk('/hosts?limit=1000');
	const h = d.items.find((x) => x.hostname === XSS_HOST);
	assert.ok(h, 'the agent enrolled the host named ' + XSS_HOST);
	return h;
}

async function openFinding(hostId, rule) {
	const d = await apiOk('/findings?status=open&host=' + hostId + '&limit=1000');
	return d.items.find((f) => f.rule === rule && String(f.host_id) === String(hostId));
}

/*
 * playwright-core gives each launch a fresh, temporary --user-data-dir of
 * its own (it refuses one in args), so no profile state carries over.
 */
before(async () => {
	fs.mkdirSync(OUT, {recursive: true});
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		args: ['--headless', '--no-sandbox', '--disable-gpu',
			'--disable-background-networking', '--disable-quic',
			'--no-first-run', '--disable-component-update', '--disable-sync'],
	});
});

after(async () => {
	if (browser)
		await browser.close();
});

test('the page asks for credentials and carries a strict CSP', async () => {
	const res = await fetch(BASE + '/');
	assert.equal(res.status, 401);
	assert.match(res.headers.get('www-authenticate') || '', /^Basic realm="derelict"/);
	const ok = await fetch(BASE + '/', {headers: {Authorization: 'Basic ' +
		Buffer.from('anyone:' + VIEWER).toString('base64')}});
	assert.equal(ok.status, 200);
	const csp = ok.headers.get('content-security-policy') || '';
	assert.match(csp, /script-src 'self'/);
	assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
	const html = await ok.text();
	assert.match(html, /src="\/static\/app\.js"/);
	assert.doesNotMatch(html, /<script>|<style>|style=/, 'no inline script or style');
});

test('overview counts equal /api/v1/summary', async () => {
	const page = await newPage(ADMIN);
	await open(page, '#/', '.cards .count');
	const s = await apiOk('/summary');
	const shown = await page.$$eval('.cards [data-count]', (els) =>
		Object.fromEntries(els.map((e) => [e.dataset.count, e.textContent])));
	const want = {
		'hosts': s.hosts,
		'abandoned': s.abandoned,
		'running mail': s.mail,
		'exposed': s.exposed,
		'silent': s.silent,
		'critical findings': s.findings.critical,
	};
	for (const [k, v] of Object.entries(want))
		assert.equal(shown[k], String(v), 'count "' + k + '"');
	assert.ok(s.hosts >= 2, 'both agents reported');
	/* The pictures are drawn: bars for status and severity, the timeline. */
	assert.equal(await page.locator('svg.chart').count(), 3);
	await page.close();
});

test('agent-sent markup is shown as text, never run', async () => {
	const h = await xssHost();
	const page = await newPage(ADMIN);
	await open(page, '#/hosts', 'table.hosts tbody tr');
	const link = page.locator('table.hosts a', {hasText: XSS_HOST});
	await link.waitFor();
	assert.equal(await link.textContent(), XSS_HOST);
	await link.click();
	await page.waitForURL(new RegExp('#/host/' + h.id + '$'));
	await page.waitForSelector('[data-table="processes"] tbody tr');
	await settle(page);
	assert.match(await page.locator('h1').textContent(), /^<img src=x onerror=alert\(1\)>/);
	const procs = await page.locator('[data-table="processes"] tbody').textContent();
	assert.ok(procs.includes(XSS_PROC), 'process name shown as text');
	assert.equal(await page.locator('main img').count(), 0, 'no <img> element was made');
	assert.equal(await page.evaluate(() => document.title), XSS_HOST + ' — derelict');
	assert.deepEqual(dialogs, []);
	await page.close();
});

test('package search filters the list', async () => {
	const h = await xssHost();
	const page = await newPage(ADMIN);
	await open(page, '#/host/' + h.id, '[data-table="packages"] tbody tr');
	const rows = page.locator('[data-table="packages"] tbody tr');
	const before = await rows.count();
	assert.ok(before >= 2, 'the fixture has two packages');
	await page.fill('#search-packages', 'bash');
	const names = await page.$$eval('[data-table="packages"] tbody tr td:first-child',
		(tds) => tds.map((t) => t.textContent));
	assert.deepEqual(names, ['bash']);
	await page.fill('#search-packages', 'no-such-package');
	assert.match(await rows.first().textContent(), /Nothing here/);
	await page.fill('#search-packages', '');
	assert.equal(await rows.count(), before);
	await page.close();
});

test('vulnerable packages are marked with their CVEs', async () => {
	const d = await apiOk('/hosts?q=old-relay');
	const h = d.items.find((x) => x.hostname === 'old-relay');
	assert.ok(h, 'the unpatched exim host reported');
	const page = await newPage(ADMIN);
	await open(page, '#/host/' + h.id, '[data-table="packages"] tbody tr');
	const row = page.locator('[data-table="packages"] tbody tr.vulnerable',
		{hasText: 'exim4-daemon-light'});
	assert.equal(await row.count(), 1, 'exim4-daemon-light is marked vulnerable');
	const cves = await row.locator('.cve').allTextContents();
	assert.ok(cves.includes('CVE-2023-42115'), 'CVEs shown: ' + cves.join(' '));
	const bash = page.locator('[data-table="packages"] tbody tr', {hasText: 'bash'});
	assert.equal(await bash.getAttribute('class'), null, 'bash is not marked');
	await page.check('#only-vuln');
	const names = await page.$$eval('[data-table="packages"] tbody tr td:first-child',
		(tds) => tds.map((t) => t.textContent).sort());
	assert.deepEqual(names, ['exim4-base', 'exim4-config', 'exim4-daemon-light']);
	const f = await page.locator('table.findings-table tbody tr',
		{hasText: 'vulnerable-mta'}).count();
	assert.equal(f, 1, 'the vulnerable-mta finding is on the host page');
	await page.close();
});

test('the host page shows when the MTA last carried mail and its queue', async () => {
	const d = await apiOk('/hosts?q=old-relay');
	const h = d.items.find((x) => x.hostname === 'old-relay');
	assert.ok(h, 'the exim host with a log and a queue reported');
	const full = await apiOk('/hosts/' + h.id);
	const act = ((full.mail || {}).activity || [])[0];
	assert.ok(act, 'GET /hosts/{id} has mail.activity');
	assert.equal(act.queue, 2);
	assert.equal(act.frozen, 1);
	const page = await newPage(VIEWER);
	await open(page, '#/host/' + h.id, '.mail-activity');
	const box = page.locator('section.panel', {has: page.locator('h2', {hasText: 'Mail'})})
		.locator('.mail-activity');
	assert.match(await box.textContent(), /Last carried mail/);
	const last = [act.last_delivered_at, act.last_received_at].sort().pop();
	assert.equal(await box.locator('.mail-last time').getAttribute('datetime'), last);
	assert.equal(await box.locator('.mail-queue').textContent(), '2 messages, 1 frozen');
	await page.close();
});

test('a viewer sees no edit controls and the API refuses its writes', async () => {
	const h = await mailHost();
	const page = await newPage(VIEWER);
	await open(page, '#/projects', 'table.projects tbody tr');
	assert.equal(await page.locator('#new-project, button.edit, button.end, button.delete').count(), 0);
	await open(page, '#/host/' + h.id, '[data-table="packages"]');
	assert.equal(await page.locator('#assign-project, #retire-host, button.ack').count(), 0);
	assert.match(await page.locator('#who').textContent(), /viewer/);
	await page.close();

	const writes = [
		['PATCH', '/projects/' + PROJECT, {ends_on: '2000-01-01'}],
		['POST', '/projects', {name: 'viewer-made'}],
		['PATCH', '/hosts/' + h.id, {retired: true}],
		['POST', '/findings/1/ack', {reason: 'viewer'}],
	];
	for (const [m, p, b] of writes) {
		const r = await api(m, p, VIEWER, b);
		assert.equal(r.status, 403, m + ' ' + p + ' as viewer');
		assert.ok(r.json && r.json.error && r.json.error.code, 'error body');
	}
	const pr = await apiOk('/projects/' + PROJECT);
	assert.equal(pr.ends_on, '2099-12-31', 'the viewer changed nothing');
});

test('an admin ends the project and the abandoned-mail-service finding appears', async () => {
	const h = await mailHost();
	assert.equal(await openFinding(h.id, 'abandoned-mail-service'), undefined,
		'no finding while the project runs');
	const page = await newPage(ADMIN);
	await open(page, '#/projects', 'table.projects tbody tr');
	await page.click('button.edit[data-project="' + PROJECT + '"]');
	const dlg = page.locator('dialog[open]');
	await dlg.waitFor();
	const past = dateUTC(-3);
	await dlg.locator('input[name="ends_on"]').fill(past);
	await dlg.locator('button[type="submit"]').click();
	await dlg.waitFor({state: 'detached'});
	await settle(page);
	const row = page.locator('table.projects tbody tr', {hasText: PROJECT});
	assert.match(await row.textContent(), new RegExp(past + '.*ended'));
	assert.equal((await apiOk('/projects/' + PROJECT)).ends_on, past);

	/* The server re-evaluates every second; the overview shows it soon. */
	let found = null;
	for (let i = 0; i < 30 && !found; i++) {
		await open(page, '#/', '.cards .count');
		const items = page.locator('.findings li', {hasText: 'abandoned-mail-service'});
		if (await items.count())
			found = items.first();
		else
			await page.waitForTimeout(500);
	}
	assert.ok(found, 'abandoned-mail-service listed on the overview');
	const f = await openFinding(h.id, 'abandoned-mail-service');
	assert.ok(f, 'the API has the finding open');
	assert.equal(f.severity, 'critical', 'exim on 0.0.0.0:25 is exposed');
	assert.ok((await found.textContent()).includes(f.summary), 'its reason is shown');
	assert.ok(await page.locator('.urgent a', {hasText: h.hostname}).count(),
		'the host heads "Forgotten hosts still running mail"');
	await page.close();
});

test('clicking a critical finding opens its host with the exposed port marked', async () => {
	const h = await mailHost();
	const page = await newPage(ADMIN);
	await open(page, '#/', '.findings li');
	const item = page.locator('.findings li.sev-critical',
		{hasText: 'abandoned-mail-service'}).first();
	await item.locator('a.finding-link').click();
	await page.waitForURL(new RegExp('#/host/' + h.id + '$'));
	await page.waitForSelector('table.data tr.exposed');
	await settle(page);
	const smtp = page.locator('tr.row-alarm.exposed', {hasText: 'exposed SMTP'});
	assert.ok(await smtp.count() >= 1, 'an exposed SMTP port is marked');
	const cells = await smtp.first().locator('td').allTextContents();
	assert.ok(cells.includes('25'), 'port 25: ' + cells.join(' | '));
	assert.ok(!cells.some((c) => /^127\.|^::1$/.test(c)), 'not a loopback address');
	/* The rest as the server marks them: the fixture's 127.0.0.1:8471 is
	 * loopback, its 0.0.0.0:2024 exposed but no SMTP port. */
	const loop = page.locator('table.data tr', {hasText: '127.0.0.1'});
	assert.equal(await loop.count(), 1, 'one loopback listener');
	assert.match(await loop.textContent(), /loopback/);
	assert.doesNotMatch(await loop.getAttribute('class') || '', /exposed/);
	const other = page.locator('table.data tr.exposed:not(.row-alarm)',
		{hasText: '2024'});
	assert.equal(await other.count(), 1, 'port 2024 is exposed, not SMTP');
	assert.doesNotMatch(await other.textContent(), /exposed SMTP/);
	assert.ok(await page.locator('h1 .badge', {hasText: 'mail exposed'}).count());
	assert.ok(await page.locator('.signals li', {hasText: 'project-ended'}).count(),
		'the project-ended signal is listed with its evidence');
	await page.close();
});

test('acknowledging a finding hides it', async () => {
	const h = await mailHost();
	const f = await openFinding(h.id, 'abandoned-mail-service');
	assert.ok(f, 'the finding is open');
	const page = await newPage(ADMIN);
	await open(page, '#/host/' + h.id, 'button.ack[data-finding="' + f.id + '"]');
	await page.click('button.ack[data-finding="' + f.id + '"]');
	const dlg = page.locator('dialog[open]');
	await dlg.locator('textarea[name="reason"]').fill('Decommission ticket OPS-1234');
	await dlg.locator('input[name="until"]').fill(dateUTC(14));
	await dlg.locator('button[type="submit"]').click();
	await dlg.waitFor({state: 'detached'});
	await page.waitForSelector('button.ack[data-finding="' + f.id + '"]', {state: 'detached'});
	await settle(page);
	const now = await api('GET', '/findings?host=' + h.id + '&limit=1000', ADMIN);
	const same = now.json.items.find((x) => x.id === f.id);
	assert.ok(same, 'the finding is kept');
	assert.equal(same.status, 'acknowledged');
	await open(page, '#/', '.cards .count');
	assert.equal(await page.locator('.findings li',
		{hasText: 'abandoned-mail-service'}).count(), 0, 'gone from the overview');
	await page.close();
});

test('a section the agent could not read is marked, as text, on its host page', async () => {
	/* The mail host's root has no dpkg database: its packages collector
	 * fails on every run. */
	const h = await mailHost();
	const full = await apiOk('/hosts/' + h.id);
	const err = (full.collector_errors || []).find((e) => e.section === 'packages');
	assert.ok(err && err.error && err.since, 'GET /hosts/{id} has the error');
	const f = await openFinding(h.id, 'collector-failing');
	assert.ok(f, 'collector-failing is open');
	assert.equal(f.severity, 'low');
	const page = await newPage(VIEWER);
	await open(page, '#/host/' + h.id, '.notice.collector-error');
	const notes = page.locator('.notice.collector-error');
	assert.equal(await notes.count(), 1, 'only the failed section has a notice');
	assert.equal(await notes.first().getAttribute('data-section'), 'packages');
	assert.equal(await notes.first().locator('.collector-reason').textContent(),
		err.error);
	const panel = page.locator('section.panel', {has: page.locator('h2', {hasText: 'Packages'})});
	assert.equal(await panel.locator('.notice.collector-error').count(), 1,
		'the notice is on the Packages panel');
	await page.close();
});

test('the hosts table filters, sorts and links', async () => {
	const h = await mailHost();
	const page = await newPage(ADMIN);
	await open(page, '#/hosts', 'table.hosts tbody tr');
	const all = await page.locator('table.hosts tbody tr').count();
	await page.check('#f-mail');
	await page.waitForURL(/#\/hosts\?mail=true$/);
	await settle(page);
	const mailRows = await page.locator('table.hosts tbody tr').allTextContents();
	assert.ok(mailRows.length >= 1 && mailRows.length < all, 'mail filter narrows');
	assert.ok(mailRows.some((t) => t.includes(h.hostname)));
	assert.ok(!mailRows.some((t) => t.includes(XSS_HOST)));
	await page.selectOption('#f-project', PROJECT);
	await page.waitForURL(new RegExp('project=' + PROJECT));
	await settle(page);
	assert.equal(await page.locator('table.hosts tbody tr').count(), 1);
	const hover = await page.locator('table.hosts tbody tr time').first().getAttribute('title');
	assert.match(hover || '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, 'exact time on hover');
	await open(page, '#/hosts', 'table.hosts tbody tr');
	await page.click('table.hosts th button:has-text("Host")');
	const sorted = await page.getAttribute('table.hosts th:first-child', 'aria-sort');
	assert.equal(sorted, 'ascending');
	await page.close();
});

test('history beyond its budget says how many changes it left out', async () => {
	const d = await apiOk('/hosts?limit=1000');
	const h = d.items.find((x) => x.hostname === HISTORY_HOST);
	assert.ok(h, 'run.sh seeded ' + HISTORY_HOST);
	const page = await newPage(VIEWER);
	await open(page, '#/host/' + h.id, 'ol.changes li');
	const row = page.locator('ol.changes li', {hasText: 'not itemised'});
	assert.equal(await row.count(), 1);
	const text = await row.textContent();
	assert.match(text, /ports/);
	assert.match(text, /3000 more changes \(\d+ added, \d+ removed, 0 changed\)/);
	assert.match(text, /budget of one report/);
	await page.close();
});

test('keyboard: skip link first, focus visible, dialogs usable', async () => {
	const page = await newPage(ADMIN);
	await open(page, '#/projects', 'table.projects tbody tr');
	await page.keyboard.press('Tab');
	assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
	await page.keyboard.press('Tab');
	await page.keyboard.press('Tab');
	const focus = await page.evaluate(() => {
		const a = document.activeElement;
		const cs = getComputedStyle(a);
		return {text: a.textContent, outline: cs.outlineStyle, width: cs.outlineWidth};
	});
	assert.equal(focus.text, 'Overview');
	assert.notEqual(focus.outline, 'none', 'focus is visible');
	await page.focus('#new-project');
	await page.keyboard.press('Enter');
	const dlg = page.locator('dialog[open]');
	await dlg.waitFor();
	assert.equal(await page.evaluate(() => document.activeElement.name), 'name');
	await page.keyboard.press('Escape');
	await dlg.waitFor({state: 'detached'});
	/* Every input on the hosts page has a label. */
	await open(page, '#/hosts', 'form.filters');
	const unlabelled = await page.$$eval('main input, main select', (els) =>
		els.filter((e) => !(e.labels && e.labels.length)).map((e) => e.id || e.name));
	assert.deepEqual(unlabelled, []);
	await page.close();
});

test('screenshots at desktop and phone width, no horizontal scrolling', async () => {
	const h = await mailHost();
	const pages = [
		['overview', '#/', '.cards .count'],
		['hosts', '#/hosts', 'table.hosts tbody tr'],
		['host', '#/host/' + h.id, '[data-table="packages"] tbody tr'],
		['projects', '#/projects', 'table.projects tbody tr'],
		['findings', '#/findings?status=', 'table.findings-table tbody tr'],
	];
	for (const [vname, vp] of [['desktop', DESKTOP], ['phone', PHONE]]) {
		const page = await newPage(ADMIN, vp);
		for (const [name, hash, sel] of pages) {
			await open(page, hash, sel);
			const w = await page.evaluate(() => [document.documentElement.scrollWidth,
				document.documentElement.clientWidth]);
			assert.ok(w[0] <= w[1], name + ' at ' + vname + ' scrolls sideways: ' + w);
			await page.screenshot({path: path.join(OUT, name + '-' + vname + '.png'),
				fullPage: true});
		}
		await page.close();
	}
	for (const f of ['overview', 'hosts', 'host', 'projects'])
		for (const v of ['desktop', 'phone'])
			assert.ok(fs.statSync(path.join(OUT, f + '-' + v + '.png')).size > 1000);
});

test('no console errors, no dialogs, no request left the server', () => {
	assert.deepEqual(consoleErrors, []);
	assert.deepEqual(dialogs, []);
	assert.deepEqual(foreignRequests, []);
});
