// verify.js - checks webhook deliveries with the Standard Webhooks
// reference library.  Reads one JSON object a line on stdin, {"secret",
// "headers", "body"}, and writes a line for each: {"ok": true, "payload"}
// when the library accepts the delivery, else {"ok": false, "error"}.
'use strict';
const { Webhook } = require('standardwebhooks');
const readline = require('readline');

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
	if (!line.trim())
		return;
	const d = JSON.parse(line);
	let out;
	try {
		const wh = new Webhook(d.secret);
		out = { ok: true, payload: wh.verify(d.body, d.headers) };
	} catch (e) {
		out = { ok: false, error: String(e && e.message || e) };
	}
	process.stdout.write(JSON.stringify(out) + '\n');
});
