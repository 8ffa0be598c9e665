// Shared helpers of the browser tests: the browser, sign-in, the
// accessibility check, screenshots and a PBX's SIP PUBLISH.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

function need(name) {
  const v = process.env[name];
  assert.ok(v, `${name} is not set: run these tests through integration/browser_test.go (go test -run TestBrowser ./integration/)`);
  return v;
}

export const env = {
  base: need('SB_BASE_URL'),
  sip: need('SB_SIP'),
  domain: need('SB_DOMAIN'),
  admin: need('SB_ADMIN'),
  adminPassword: need('SB_ADMIN_PASSWORD'),
  colleague: need('SB_COLLEAGUE'),
  colleaguePassword: need('SB_COLLEAGUE_PASSWORD'),
  ringing: need('SB_RINGING'),
  teamSize: Number(need('SB_TEAM_SIZE')),
  screenshots: process.env.SB_SCREENSHOTS || '',
};

// The flags the issue and CI ask for: headless, no sandbox (root in CI),
// and nothing that reaches the network on its own.
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({
    baseURL: env.base,
    viewport: opts.viewport || DESKTOP,
    colorScheme: opts.colorScheme || 'light',
    reducedMotion: opts.reducedMotion || 'no-preference',
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return { context, page };
}

// signIn signs user in through the sign-in form and waits for the app.
export async function signIn(page, user, password) {
  await page.goto('/');
  await page.getByLabel(/user|extension/i).first().fill(user);
  await page.getByLabel(/password/i).first().fill(password);
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.getByRole('button', { name: /sign out/i }).waitFor();
}

export async function go(page, route) {
  await page.goto('/#/' + route);
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// checkA11y runs axe-core on the page and fails on serious or critical
// violations, naming each with the elements it found.
export async function checkA11y(page, what) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(axeSource);
  }
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`), [],
    `${what}: axe-core found serious or critical violations`);
}

// screenshot writes docs/screenshots/<name>.png when UPDATE_SCREENSHOTS=1.
export async function screenshot(page, name) {
  if (!env.screenshots) return;
  await page.screenshot({ path: path.join(env.screenshots, name + '.png') });
}

// dialogInfo is a full dialog-info document of aor with one call in state.
function dialogInfo(aor, version, state, display, remote, id) {
  return `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="${version}" state="full" entity="sip:${aor}">
 <dialog id="${id}" call-id="${id}@pbx" local-tag="lt" remote-tag="rt" direction="recipient">
  <state>${state}</state>
  <remote><identity display="${display}">${remote}</identity></remote>
 </dialog>
</dialog-info>`;
}

// publishDialog sends the PBX's SIP PUBLISH of aor's call over UDP, as
// Kamailio's pua_dialoginfo would, and waits for the 200.
export async function publishDialog(aor, state, display, remote, version = 0, dialog = 'web-1') {
  const [host, port] = env.sip.split(':');
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const local = `127.0.0.1:${sock.address().port}`;
  const body = dialogInfo(aor, version, state, display, remote, dialog);
  const id = randomBytes(6).toString('hex');
  const msg = [
    `PUBLISH sip:${aor} SIP/2.0`,
    `Via: SIP/2.0/UDP ${local};branch=z9hG4bK${id};rport`,
    'Max-Forwards: 70',
    `From: <sip:pbx@${env.domain}>;tag=${id}`,
    `To: <sip:${aor}>`,
    `Call-ID: web-pub-${id}`,
    'CSeq: 1 PUBLISH',
    'Event: dialog',
    'Expires: 600',
    'Content-Type: application/dialog-info+xml',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '', body,
  ].join('\r\n');
  try {
    const answer = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to PUBLISH within 5 s')), 5000);
      sock.on('message', (m) => {
        const line = m.toString().split('\r\n')[0];
        if (/^SIP\/2\.0 1\d\d/.test(line)) return;
        clearTimeout(timer);
        resolve(line);
      });
      sock.send(msg, Number(port), host);
    });
    assert.match(answer, /^SIP\/2\.0 200/, 'the PUBLISH is accepted');
  } finally {
    sock.close();
  }
}
