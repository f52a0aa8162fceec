import * as fs from 'node:fs';
import { expect, expectPath, invite, newAccount, open, signUp, test, uniqueSuffix } from './helpers';

// Signs up (a deliberately slow password hash in a debug build) and drives
// several pages: give it three times the default.
test.slow();

test('an owner browses the audit log, filters it by action, opens an entry and exports the filtered CSV', async ({
  page,
  javaScriptEnabled,
}) => {
  const owner = newAccount('Audrey');
  const invitee = `ivan-${uniqueSuffix()}@example.com`;
  await signUp(page, owner);
  await expectPath(page, '/dashboard');
  // Something to find among the sign-up's own entries.
  await invite(page, invitee, 'Member');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
  await expectPath(page, '/audit');
  await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
  const entries = page.getByTestId('audit-entries');
  await expect(entries.locator('caption')).toHaveText('Audit log entries, newest first');
  for (const action of ['user.signed_up', 'organization.created', 'member.invited']) {
    await expect(entries.locator(`tr[data-action="${action}"]`)).toHaveCount(1);
  }
  await expect(entries.locator('tbody tr').first()).toContainText(owner.email);

  // Filter by action: a GET form, so the filter is in the address.
  await page.getByLabel('Action', { exact: true }).selectOption('member.invited');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/[?&]action=member\.invited/);
  await expect(entries.locator('tbody tr')).toHaveCount(1);
  await expect(entries.locator('tbody tr[data-action="member.invited"]')).toHaveCount(1);
  await expect(page.getByLabel('Action', { exact: true })).toHaveValue('member.invited');

  // Its entry, with every field.
  await entries.locator('tbody tr').first().getByRole('link', { name: /^#\d+$/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: /^Entry \d+: member\.invited$/ })).toBeVisible();
  const fields = page.getByTestId('audit-entry');
  await expect(fields).toContainText(owner.email);
  await expect(fields).toContainText('Success');
  await expect(page.getByTestId('audit-hash')).toHaveText(/^[0-9a-f]{64}$/);
  await expect(page.getByTestId('audit-after')).toContainText(invitee);

  // The filtered export: a file, with its header and the one entry.
  await page.goBack();
  await expect(page).toHaveURL(/[?&]action=member\.invited/);
  const downloaded = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export CSV' }).click();
  const download = await downloaded;
  expect(download.suggestedFilename()).toBe('audit-log.csv');
  const csv = fs.readFileSync((await download.path())!, 'utf8');
  const lines = csv.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^seq,id,occurred_at,actor_kind,actor_id,actor_name,actor_email,action,/);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(',member.invited,');
  expect(lines[1]).toContain(owner.email);

  // The chain checks out.
  await open(page, '/audit');
  await page.getByRole('link', { name: 'Verify the chain' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Verify the audit log' })).toBeVisible();
  await expect(page.getByTestId('verify-result')).toHaveText(/^The chain is intact: \d+ entries checked\.$/);
  if (!javaScriptEnabled) {
    // Without JavaScript every step above was a plain page load.
    expect(page.url()).toMatch(/\/audit\/verify$/);
  }
});

test('the audit log pages render and filter through the plain GET form, with errors beside their field', async ({
  page,
  javaScriptEnabled,
}) => {
  test.skip(javaScriptEnabled, 'the form without JavaScript');
  await signUp(page, newAccount('Otto'));
  await expectPath(page, '/dashboard');

  await open(page, '/audit');
  await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
  const entries = page.getByTestId('audit-entries');
  await expect(entries.locator('tbody tr')).toHaveCount(2);

  await page.getByLabel('Action', { exact: true }).selectOption('organization.created');
  await page.getByLabel('Outcome').selectOption('success');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=organization\.created/);
  await expect(page).toHaveURL(/outcome=success/);
  await expect(entries.locator('tbody tr')).toHaveCount(1);
  await expect(entries.locator('tbody tr')).toHaveAttribute('data-action', 'organization.created');

  // Nothing matches: said so.
  await page.getByLabel('Actor type').selectOption('api_key');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByText('No entries match.')).toBeVisible();
  await page.getByRole('link', { name: 'Clear filters' }).click();
  await expect(entries.locator('tbody tr')).toHaveCount(2);

  // A value the form cannot send, typed into the address: its message
  // beside its field.
  await open(page, '/audit?actor_id=someone');
  const actorId = page.getByLabel('Actor id');
  await expect(actorId).toHaveAttribute('aria-invalid', 'true');
  await expect(actorId).toHaveValue('someone');
  await expect(page.locator('#audit-actor-id-error')).toContainText('Enter the id of a user or an API key');

  // One entry, and one that is not there.
  await open(page, '/audit/1');
  await expect(page.getByRole('heading', { level: 1, name: 'Entry 1: user.signed_up' })).toBeVisible();
  const missing = await open(page, '/audit/999999');
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole('alert')).toContainText("There is no such entry in this organization's audit log.");

  await open(page, '/audit/verify');
  await expect(page.getByTestId('verify-result')).toHaveText('The chain is intact: 2 entries checked.');
});
