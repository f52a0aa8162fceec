import { GONE_ON_PURPOSE, expect, expectPath, newAccount, open, signUp, test } from './helpers';
import type { Page } from '@playwright/test';

// The app as a single-page application: with JavaScript, once the first page
// has hydrated, links, forms and the back button move between pages without
// loading another document.
test.slow();
test.skip(({ javaScriptEnabled }) => !javaScriptEnabled, 'the app routes in the browser only with JavaScript');

/**
 * Marks the running document: the mark survives only while no new document
 * is loaded, and a document keeps one navigation entry for its life.
 */
async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { codebookSpaMark: number }).codebookSpaMark = 4711;
  });
}

async function expectSameDocument(page: Page, step: string): Promise<void> {
  const seen = await page.evaluate(() => ({
    mark: (window as unknown as { codebookSpaMark?: number }).codebookSpaMark,
    navigations: performance.getEntriesByType('navigation').length,
  }));
  expect(seen, `no document was loaded by ${step}`).toEqual({ mark: 4711, navigations: 1 });
}

async function signUpOwner(page: Page): Promise<void> {
  await signUp(page, newAccount('Spa'));
  await expectPath(page, '/dashboard');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', '');
}

test('the navigation moves through the signed-in pages, and back, without loading a document', async ({
  page,
}) => {
  await signUpOwner(page);
  await markDocument(page);
  const main = page.getByRole('navigation', { name: 'Main' });
  const pages: [string, string, string][] = [
    ['Codes', '/codes', 'Codes'],
    ['Members', '/members', 'Members'],
    ['Webhooks', '/webhooks', 'Webhooks'],
    ['Audit log', '/audit', 'Audit log'],
    ['API keys', '/api-keys', 'API keys'],
    ['Settings', '/settings', 'Organization settings'],
    ['Dashboard', '/dashboard', ''],
  ];
  for (const [link, path, heading] of pages) {
    await main.getByRole('link', { name: link, exact: true }).click();
    await expectPath(page, path);
    if (heading) {
      await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    }
    // The layout stays mounted: the header with the organization is there.
    await expect(page.getByTestId('current-org')).toBeVisible();
    await expectSameDocument(page, `the link "${link}"`);
  }
  await page.goBack();
  await expectPath(page, '/settings');
  await page.goBack();
  await expectPath(page, '/api-keys');
  await expect(page.getByRole('heading', { level: 1, name: 'API keys' })).toBeVisible();
  await expectSameDocument(page, 'the back button');
  await page.goForward();
  await expectPath(page, '/settings');
  await expectSameDocument(page, 'the forward button');
});

test('forms answer the running app: a new code and an invitation load no document', async ({ page }) => {
  await signUpOwner(page);
  await markDocument(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Codes', exact: true }).click();
  await page.getByRole('link', { name: 'New code' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'New code' })).toBeVisible();
  await page.getByLabel('Code', { exact: true }).fill('S72.001A');
  await page.getByLabel('Description', { exact: true }).fill('Fracture of unspecified part of neck of right femur');
  await page.getByLabel('Category').fill('Injury');
  await page.getByRole('button', { name: 'Create code' }).click();
  await expect(page).toHaveURL(/\/codes\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name: 'S72.001A' })).toBeVisible();
  await expectSameDocument(page, 'creating a code');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members', exact: true }).click();
  const email = `spa-invitee-${Date.now()}@example.com`;
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByRole('status')).toHaveText(`Invitation sent to ${email}.`);
  await expect(page.getByTestId('invitations').locator(`tr[data-email="${email}"]`)).toBeVisible();
  await expectSameDocument(page, 'sending an invitation');
});

test('the codes search shows matches while typing, and the address holds the query', async ({ page }) => {
  await signUpOwner(page);
  for (const [code, description] of [
    ['S72.001A', 'Fracture of unspecified part of neck of right femur'],
    ['J45.909', 'Unspecified asthma, uncomplicated'],
  ]) {
    const response = await page.request.post('/api/codes/create', {
      form: { code, description, category: 'Test', severity: 'medium', active: 'on' },
    });
    expect(response.status(), await response.text()).toBeLessThan(300);
  }
  await open(page, '/codes');
  await markDocument(page);
  const rows = page.getByRole('table').getByRole('row');
  await expect(rows.filter({ hasText: 'J45.909' })).toBeVisible();
  await page.getByLabel('Search', { exact: true }).pressSequentially('fract', { delay: 30 });
  // No button pressed: the list follows what is typed.
  await expect(page).toHaveURL(/[?&]q=fract(&|$)/);
  await expect(rows.filter({ hasText: 'S72.001A' })).toBeVisible();
  await expect(rows.filter({ hasText: 'J45.909' })).toHaveCount(0);
  await expectSameDocument(page, 'typing a search');
  // A reload shows the same results: the address holds the query.
  await page.reload();
  await expect(page.getByLabel('Search', { exact: true })).toHaveValue('fract');
  await expect(rows.filter({ hasText: 'S72.001A' })).toBeVisible();
  await expect(rows.filter({ hasText: 'J45.909' })).toHaveCount(0);
});

test("a teammate's edit shows on an open code page within 2 s, and an open editor is told, not overwritten", async ({ page }) => {
  await signUpOwner(page);
  const response = await page.request.post('/api/codes/create', {
    form: { code: 'E11.9', description: 'Type 2 diabetes mellitus', category: 'Endocrine', severity: 'medium', active: 'on' },
  });
  expect(response.status(), await response.text()).toBeLessThan(300);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Codes', exact: true }).click();
  await page.getByRole('link', { name: 'E11.9' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'E11.9' })).toBeVisible();
  await markDocument(page);
  const current = page.getByTestId('current-values');

  // A second tab edits the code.
  const other = await page.context().newPage();
  try {
    await open(other, new URL(page.url()).pathname);
    const form = other.locator('section', { has: other.getByRole('heading', { level: 2, name: 'Edit' }) });
    await form.getByLabel('Description', { exact: true }).fill('Type 2 diabetes mellitus without complications');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await expect(other.getByRole('status')).toHaveText('Saved as version 2.');

    await expect(current).toContainText('Type 2 diabetes mellitus without complications', { timeout: 2_000 });
    await expectSameDocument(page, 'a change made elsewhere');

    // Now this page's editor holds typing when the other page saves again.
    const editor = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'Edit' }) });
    await editor.getByLabel('Category').fill('Diabetes');
    await form.getByLabel('Description', { exact: true }).fill('Type 2 diabetes, uncomplicated');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await expect(other.getByRole('status')).toHaveText('Saved as version 3.');
    await expect(page.getByTestId('changed-meanwhile')).toContainText('(version 3)', { timeout: 2_000 });
    await expect(editor.getByLabel('Category')).toHaveValue('Diabetes');
    await expectSameDocument(page, 'a change made elsewhere while editing');
  } finally {
    await other.close();
  }
});

test('Ctrl-K opens a palette that jumps to a page, or to a code by words of its description', async ({ page }) => {
  await signUpOwner(page);
  const response = await page.request.post('/api/codes/create', {
    form: { code: 'J45.909', description: 'Unspecified asthma, uncomplicated', category: 'Respiratory', severity: 'medium', active: 'on' },
  });
  expect(response.status(), await response.text()).toBeLessThan(300);
  await markDocument(page);

  // The button shows once the app runs, and the shortcut with it.
  await expect(page.getByRole('button', { name: /Go to/ })).toBeVisible();
  await page.keyboard.press('Control+k');
  const palette = page.getByRole('dialog', { name: 'Go to' });
  await expect(palette).toBeVisible();
  // The box has the keyboard: typing needs no click.
  await expect(palette.getByRole('searchbox')).toBeFocused();
  await page.keyboard.type('asthma');
  await expect(palette.getByRole('link', { name: /J45\.909/ })).toBeVisible();
  await palette.getByRole('searchbox').press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'J45.909' })).toBeVisible();
  await expect(palette).toHaveCount(0);

  await page.getByRole('button', { name: /Go to/ }).click();
  await expect(palette.getByRole('searchbox')).toBeFocused();
  await page.keyboard.type('memb');
  await palette.getByRole('searchbox').press('Enter');
  await expectPath(page, '/members');
  await expectSameDocument(page, 'the palette');
});

test('a page whose wasm is gone after two deploys is loaded again from the server, not left broken', async ({ page }) => {
  await signUpOwner(page);
  await markDocument(page);
  // The members page's own chunk, as a server two deploys later no longer has it.
  await page.route(/\/pkg\/split___members_route_view_[^/]*\.wasm$/, (route) =>
    route.fulfill({ status: 404, headers: { [GONE_ON_PURPOSE]: '1' }, body: '' }),
  );
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members', exact: true }).click();
  await expectPath(page, '/members');
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', '');
  const mark = await page.evaluate(() => (window as unknown as { codebookSpaMark?: number }).codebookSpaMark);
  expect(mark, 'a new document was loaded').toBeUndefined();
});
