// The web app as its users meet it, in Debian's Chromium against the real
// binary (started by integration/browser_test.go): the Show list,
// in order, one browser for the receptionist (admin) and a second context
// for a colleague.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  checkA11y, DESKTOP, env, go, launch, newPage, PHONE, publishDialog, screenshot, signIn,
} from './lib.mjs';

let browser;
let ana; // the receptionist's page (admin)

before(async () => {
  browser = await launch();
  ({ page: ana } = await newPage(browser));
});

after(async () => {
  await browser?.close();
});

const contactName = 'Zoë Zimmermann';

// results is the contacts page's list of contacts (not the groups).
function results(page) {
  return page.locator('ul.contact-list');
}

function board(page) {
  return page.getByRole('list', { name: 'Extensions' });
}

// ready waits until route's page shows its data.
async function ready(page, route) {
  const wait = {
    contacts: () => page.locator('ul.contact-list > li').first().waitFor(),
    board: () => page.locator('[role="list"][aria-label="Extensions"][aria-busy="false"] [role="listitem"]').first().waitFor(),
    me: () => page.getByRole('heading', { name: 'My recent calls' }).waitFor(),
    admin: () => page.locator('.admin-table tbody tr').first().waitFor(),
  }[route];
  await wait();
}

function tile(page, aor) {
  return page.locator(`[role="listitem"][data-aor="${aor}"]`);
}

test('sign in', async () => {
  await signIn(ana, env.admin, env.adminPassword);
  const session = await ana.evaluate(() => fetch('/v1/session').then((r) => r.json()));
  assert.equal(session.user, env.admin);
  assert.equal(session.admin, true);
});

test('add a personal contact and find it by typing part of a number', async () => {
  await go(ana, 'contacts');
  await ana.getByRole('button', { name: 'Add contact' }).click();
  const form = ana.getByRole('dialog', { name: 'New contact' });
  await form.getByLabel('First name').fill('Zoë');
  await form.getByLabel('Last name').fill('Zimmermann');
  await form.getByLabel(/number|phone/i).first().fill('+49 30 9876 5432');
  await form.getByRole('button', { name: 'Save' }).click();
  await ana.getByRole('status').filter({ hasText: `${contactName} added.` }).waitFor();
  const search = ana.getByRole('searchbox', { name: 'Search contacts' });
  await search.fill('9876 54');
  await results(ana).getByRole('listitem').filter({ hasText: contactName }).waitFor();
  await search.fill('');
});

// firstRowIs waits until the contacts list's first row does (or does not)
// name the contact.
async function firstRow(page, name, is) {
  await page.waitForFunction(({ name, is }) => {
    const rows = document.querySelectorAll('ul.contact-list > li');
    return rows.length > 1 && rows[0].textContent.includes(name) === is;
  }, { name, is });
}

test('mark it Favorite and see it move first', async () => {
  const search = ana.getByRole('searchbox', { name: 'Search contacts' });
  await firstRow(ana, contactName, false); // by name, Zoë Zimmermann is not first
  await search.fill('9876 54');
  await results(ana).getByRole('button', { name: contactName }).click();
  const card = ana.getByRole('dialog', { name: contactName });
  await card.getByRole('button', { name: 'Favorite' }).click();
  await card.getByRole('button', { name: 'Favorite', pressed: true }).waitFor();
  await ana.keyboard.press('Escape');
  await search.fill('');
  await ana.waitForFunction((name) => {
    const rows = document.querySelectorAll('ul.contact-list > li');
    return rows.length > 1 && rows[0].textContent.includes(name);
  }, contactName);
});

test('try to block it and read the refusal', async () => {
  await results(ana).getByRole('button', { name: contactName }).click();
  const card = ana.getByRole('dialog', { name: contactName });
  await card.getByRole('button', { name: 'Block' }).click();
  const refusal = card.getByRole('alert').filter({ hasText: /Refused/ });
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /Favorite or VIP, or Blocked, but not both/);
  assert.equal(await card.getByRole('button', { name: 'Block', pressed: true }).count(), 0, 'not blocked');
  await ana.keyboard.press('Escape');
});

test('import a CSV with one bad row and see the line in the report', async () => {
  await go(ana, 'contacts');
  const csv = 'first_name,last_name,phone_work,email\n'
    + 'Imke,Import,+49 30 5550 101,imke@example.com\n'
    + 'Ivo,Invalid,12,ivo@example.com\n'
    + 'Ines,Import,+49 30 5550 102,ines@example.com\n';
  const chooser = ana.waitForEvent('filechooser');
  await ana.getByRole('button', { name: 'Import', exact: true }).click();
  await (await chooser).setFiles({ name: 'contacts.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  const report = ana.getByRole('dialog', { name: 'Import contacts' });
  await report.getByRole('listitem').filter({ hasText: /^Line 3\b/ }).waitFor();
  assert.match(await report.textContent(), /Imported 2,.*rejected 1\./);
  await report.getByRole('button', { name: 'Close' }).first().click();
});

test('a PBX PUBLISH of a ringing call turns the team tile to ringing within 1 s', async (t) => {
  await go(ana, 'board');
  const t203 = tile(ana, env.ringing);
  await t203.waitFor();
  assert.notEqual(await t203.getAttribute('data-line'), 'ringing');
  // Only the tiles in view are rendered, not the whole team.
  const rendered = await board(ana).getByRole('listitem').count();
  assert.ok(rendered > 0 && rendered < env.teamSize, `rendered ${rendered} tiles of ${env.teamSize}`);

  const start = Date.now();
  await publishDialog(env.ringing, 'early', 'Marseille Office', 'sip:+33491550142@trunk.example.net');
  await ana.locator(`[role="listitem"][data-aor="${env.ringing}"][data-line="ringing"]`)
    .waitFor({ timeout: Math.max(1, 1000 - (Date.now() - start)) });
  t.diagnostic(`tile ringing ${Date.now() - start} ms after the PUBLISH was sent`);
  assert.match(await t203.getAttribute('aria-label'), /Ringing from Marseille Office/);
  await screenshot(ana, 'board-ringing-desktop-light');
  await publishDialog(env.ringing, 'terminated', 'Marseille Office', 'sip:+33491550142@trunk.example.net', 1);
  await ana.locator(`[role="listitem"][data-aor="${env.ringing}"][data-line="idle"]`).waitFor();
});

test('the board scrolls through every extension, rendering only those in view', async () => {
  const scroller = ana.locator('.board-scroll');
  await scroller.evaluate((el) => { el.scrollTop = el.scrollHeight; });
  const last = 300 + env.teamSize - 4;
  await tile(ana, `${last}@${env.domain}`).waitFor();
  const rendered = await board(ana).getByRole('listitem').count();
  assert.ok(rendered < 100, `rendered ${rendered} tiles of ${env.teamSize} at the bottom`);
  assert.equal(await tile(ana, `201@${env.domain}`).count(), 0, 'the top rows are gone');
  await scroller.evaluate((el) => { el.scrollTop = 0; });
  await tile(ana, `201@${env.domain}`).waitFor();
});

test('the keyboard moves between tiles, End to the last one and Home back', async () => {
  await tile(ana, `201@${env.domain}`).getByRole('button').focus();
  await ana.keyboard.press('ArrowRight');
  assert.equal(await ana.evaluate(() => document.activeElement.closest('[role="listitem"]').dataset.aor), `202@${env.domain}`);
  await ana.keyboard.press('End');
  const last = `${300 + env.teamSize - 4}@${env.domain}`;
  await ana.waitForFunction((aor) => document.activeElement?.closest('[role="listitem"]')?.dataset.aor === aor, last);
  await ana.keyboard.press('Home');
  await ana.waitForFunction((aor) => document.activeElement?.closest('[role="listitem"]')?.dataset.aor === aor, `201@${env.domain}`);
});

test('the board finds a colleague far down the list', async () => {
  const last = 300 + env.teamSize - 4;
  const search = ana.getByRole('searchbox', { name: 'Search team' });
  await search.fill(String(last));
  await tile(ana, `${last}@${env.domain}`).waitFor();
  assert.equal(await board(ana).getByRole('listitem').count(), 1);
  await search.fill('');
});

test('set "Lunch" with a note and see it on a colleague\'s board', async () => {
  const { context, page: bruno } = await newPage(browser);
  try {
    await signIn(bruno, env.colleague, env.colleaguePassword);
    await go(bruno, 'me');
    await bruno.getByRole('radio', { name: 'Lunch' }).check();
    await bruno.getByLabel('Note').fill('Back at 13:30');
    await bruno.getByRole('button', { name: 'Set status' }).click();
    await bruno.getByRole('status').filter({ hasText: 'Status set to Lunch.' }).waitFor();
    await go(ana, 'board');
    await ana.waitForFunction(({ aor }) => {
      const el = document.querySelector(`[role="listitem"][data-aor="${aor}"]`);
      return el && /Lunch/.test(el.getAttribute('aria-label')) && /Back at 13:30/.test(el.getAttribute('aria-label'));
    }, { aor: env.colleague });
  } finally {
    await context.close();
  }
});

test('start a click-to-call from the board', async () => {
  await go(ana, 'board');
  const accepted = ana.waitForResponse((r) => r.url().endsWith('/v1/calls') && r.request().method() === 'POST');
  await tile(ana, env.colleague).getByRole('button', { name: /^Call Bruno Costa \(202\)$/ }).click();
  const res = await accepted;
  assert.equal(res.status(), 202, 'the API accepted the click-to-call');
  await ana.getByRole('status').filter({ hasText: /Calling Bruno Costa/ }).first().waitFor();
});

test('admin mints an API key, shown once, and revokes it', async () => {
  await go(ana, 'admin');
  await ana.getByRole('heading', { name: 'API keys' }).waitFor();
  await ana.getByRole('radio', { name: /User key/ }).check();
  await ana.getByLabel('User (extension@domain)').fill(env.colleague);
  await ana.getByRole('button', { name: 'Mint key' }).click();
  const secret = ana.locator('.admin-secret-value');
  await secret.waitFor();
  const key = (await secret.textContent()).trim();
  assert.match(key, /^sbk_[0-9a-f]{16}_/);
  await ana.getByRole('button', { name: 'I have copied it' }).click();
  assert.equal(await secret.count(), 0, 'the secret is shown only once');
  const id = key.split('_')[1];
  await ana.getByRole('button', { name: `Revoke key ${id}` }).click();
  await ana.getByRole('status').filter({ hasText: `Key ${id} revoked.` }).waitFor();
});

test('admin provisions a user who can sign in, then deletes it after reading what goes with it', async () => {
  await go(ana, 'admin');
  const form = ana.getByRole('form', { name: 'Provision a user' });
  await form.getByLabel('Extension').fill('2450');
  await form.getByLabel('First name').fill('Nina');
  await form.getByLabel('Last name').fill('Neu');
  await form.getByLabel('Direct number (DID)').fill('+49 30 1234 450');
  await form.getByLabel(/^SIP password/).fill('sip-secret-450');
  await form.getByLabel(/^Web password/).fill('nina-web-pass-450');
  await form.getByRole('button', { name: 'Save user' }).click();
  await ana.getByRole('status').filter({ hasText: `User 2450@${env.domain} saved.` }).waitFor();

  // Nina signs in with the web password just set and adds a contact.
  const { context, page: nina } = await newPage(browser);
  try {
    await signIn(nina, `2450@${env.domain}`, 'nina-web-pass-450');
    const status = await nina.evaluate(async () => {
      const s = await fetch('/v1/session').then((r) => r.json());
      const r = await fetch('/v1/contacts', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token },
        body: JSON.stringify({ kind: 'personal', first_name: 'Mum', phones: [{ type: 'mobile', number: '+49 171 555 0450' }] }),
      });
      return r.status;
    });
    assert.equal(status, 201);
  } finally {
    await context.close();
  }

  await ana.getByRole('searchbox', { name: 'Search users' }).fill('2450');
  await ana.getByRole('button', { name: 'Edit 2450' }).click();
  const edit = ana.getByRole('form', { name: 'Edit user 2450' });
  assert.equal(await edit.getByLabel('First name').inputValue(), 'Nina');
  await edit.getByLabel('Mobile number').fill('+49 171 555 0451');
  await edit.getByRole('button', { name: 'Save user' }).click();
  await ana.getByRole('status').filter({ hasText: `User 2450@${env.domain} saved.` }).waitFor();
  await ana.getByRole('row').filter({ hasText: '+49 171 555 0451' }).waitFor();
  await ana.getByRole('button', { name: 'Delete 2450' }).click();
  const confirm = ana.getByRole('alertdialog');
  await confirm.waitFor();
  assert.match(await confirm.textContent(), /1 personal contacts/, 'the confirmation says what goes with the user');
  await confirm.getByRole('button', { name: `Delete 2450@${env.domain} and all of this` }).click();
  await ana.getByRole('status').filter({ hasText: `User 2450@${env.domain} deleted.` }).waitFor();
});

test('admin adds and deletes a company contact, and creates a shared group', async () => {
  await go(ana, 'admin');
  const form = ana.getByRole('form', { name: 'Add a company contact' });
  await form.getByLabel('Company').fill('Lieferant GmbH');
  await form.getByLabel('Phone number').fill('+49 30 555 0199');
  await form.getByRole('button', { name: 'Add company contact' }).click();
  await ana.getByRole('status').filter({ hasText: 'Company contact added.' }).waitFor();
  await ana.getByRole('button', { name: 'Delete Lieferant GmbH' }).click();
  await ana.getByRole('status').filter({ hasText: 'Company contact deleted.' }).waitFor();

  await ana.getByLabel('Group name').fill('Front desk');
  await ana.getByRole('button', { name: 'Create shared group' }).click();
  await ana.getByRole('status').filter({ hasText: 'Shared group “Front desk” created.' }).waitFor();
  // The board filters by it.
  await go(ana, 'board');
  await ana.getByLabel('Group').selectOption({ label: 'Front desk' });
  await ana.getByText('No extension in this group.').waitFor();
  await ana.getByLabel('Group').selectOption({ label: 'Everyone' });
});

test('no serious accessibility violations on the main pages, light and dark', async () => {
  for (const route of ['contacts', 'board', 'me', 'admin']) {
    await go(ana, route);
    await ready(ana, route);
    await checkA11y(ana, route);
  }
  const { context, page } = await newPage(browser, { colorScheme: 'dark', viewport: PHONE });
  try {
    await signIn(page, env.admin, env.adminPassword);
    for (const route of ['contacts', 'board', 'me', 'admin']) {
      await go(page, route);
      await ready(page, route);
      await checkA11y(page, `${route} (dark, phone width)`);
    }
  } finally {
    await context.close();
  }
});

test('screenshots at desktop and phone width, light and dark', { skip: !env.screenshots && 'UPDATE_SCREENSHOTS is not 1' }, async () => {
  // A board with something going on: a call ringing, one in progress.
  await publishDialog(env.ringing, 'early', 'Marseille Office', 'sip:+33491550142@trunk.example.net', 0, 'web-2');
  await publishDialog(`301@${env.domain}`, 'confirmed', 'Berlin Office', 'sip:+493012345678@trunk.example.net', 0, 'web-3');
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    for (const scheme of ['light', 'dark']) {
      // Reduced motion: the ringing lamp holds still for the picture.
      const { context, page } = await newPage(browser, { viewport, colorScheme: scheme, reducedMotion: 'reduce' });
      try {
        await signIn(page, env.admin, env.adminPassword);
        for (const route of ['contacts', 'board', 'me', 'admin']) {
          await go(page, route);
          await ready(page, route);
          await screenshot(page, `${route}-${size}-${scheme}`);
        }
      } finally {
        await context.close();
      }
    }
  }
});

test('sign out', async () => {
  await ana.getByRole('button', { name: /sign out/i }).click();
  await ana.getByRole('button', { name: /sign in/i }).waitFor();
  const status = await ana.evaluate(() => fetch('/v1/session').then((r) => r.status));
  assert.equal(status, 401);
});
