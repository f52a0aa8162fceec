import { expect, newAccount, open, signUp, test, type NewAccount } from './helpers';
import type { Page } from '@playwright/test';

// Each test signs up (a deliberately slow password hash in a debug build)
// and walks through many pages: give them three times the default.
test.slow();

interface CodeValues {
  code: string;
  description: string;
  category?: string;
  severity?: 'Low' | 'Medium' | 'High' | 'Critical';
}

/** Signs up a fresh owner and waits for their dashboard. */
async function owner(page: Page): Promise<NewAccount> {
  const account = newAccount('Ada');
  await signUp(page, account);
  await expect(page).toHaveURL(/\/dashboard$/);
  return account;
}

/** Creates a code through the form on /codes/new and waits for its page. */
async function createCode(page: Page, values: CodeValues): Promise<string> {
  await open(page, '/codes');
  await page.getByRole('link', { name: 'New code' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'New code' })).toBeVisible();
  await page.getByLabel('Code', { exact: true }).fill(values.code);
  await page.getByLabel('Description', { exact: true }).fill(values.description);
  await page.getByLabel('Category').fill(values.category ?? '');
  if (values.severity) {
    await page.getByLabel('Severity').selectOption({ label: values.severity });
  }
  await page.getByRole('button', { name: 'Create code' }).click();
  await expect(page).toHaveURL(/\/codes\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name: values.code })).toBeVisible();
  return new URL(page.url()).pathname;
}

/** Creates a code straight through its server function (for test data). */
async function seedCode(page: Page, values: CodeValues): Promise<void> {
  const response = await page.request.post('/api/codes/create', {
    form: {
      code: values.code,
      description: values.description,
      category: values.category ?? '',
      severity: (values.severity ?? 'medium').toLowerCase(),
      active: 'on',
    },
  });
  expect(response.status(), await response.text()).toBeLessThan(300);
}

/** On a code's page: types into the edit form and saves. */
async function edit(page: Page, fields: { description?: string; category?: string; comment?: string }) {
  const form = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'Edit' }) });
  if (fields.description !== undefined) {
    await form.getByLabel('Description', { exact: true }).fill(fields.description);
  }
  if (fields.category !== undefined) {
    await form.getByLabel('Category').fill(fields.category);
  }
  if (fields.comment !== undefined) {
    await form.getByLabel('Why this change').fill(fields.comment);
  }
  await form.getByRole('button', { name: 'Save changes' }).click();
}

async function expectVersion(page: Page, version: number) {
  await expect(page.locator('.lead')).toContainText(`Version ${version} ·`);
}

/** The timeline entry of one version on a code's page. */
function versionItem(page: Page, version: number) {
  return page.getByTestId('timeline').locator(`li[data-version="${version}"]`);
}

test('a code is created, edited, and an edit from a stale tab is refused, compared and merged', async ({
  page,
}) => {
  await owner(page);
  const path = await createCode(page, {
    code: 'S72.0',
    description: 'Fracture of femur',
    category: 'Injury',
    severity: 'High',
  });
  const current = page.getByTestId('current-values');
  await expect(current).toContainText('Fracture of femur');
  await expect(current).toContainText('High');
  await expectVersion(page, 1);

  await edit(page, { description: 'Fracture of neck of femur', comment: 'More precise' });
  await expectVersion(page, 2);
  await expect(current).toContainText('Fracture of neck of femur');

  // This tab starts an edit at version 2.
  const form = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'Edit' }) });
  await form.getByLabel('Description', { exact: true }).fill('Closed fracture of neck of femur');

  // A second tab of the same user, opened at version 2, saves first.
  const second = await page.context().newPage();
  try {
    await open(second, path);
    await expectVersion(second, 2);
    await edit(second, { category: 'Injuries of the hip and thigh' });
    await expectVersion(second, 3);
  } finally {
    await second.close();
  }

  // With JavaScript this tab hears of it at once; the edit under way is
  // kept, not overwritten.
  if (test.info().project.use.javaScriptEnabled !== false) {
    await expect(page.getByTestId('changed-meanwhile')).toContainText('(version 3)');
    await expect(form.getByLabel('Description', { exact: true })).toHaveValue('Closed fracture of neck of femur');
  }
  // Its save is refused, nothing is lost.
  await form.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Someone else saved this code first' })).toBeVisible();
  await expect(page.getByRole('alert').filter({ hasText: 'version 3' })).toBeVisible();
  await expect(current).toContainText('Injuries of the hip and thigh');
  await expect(current).toContainText('Fracture of neck of femur');
  // Their values beside the current ones, and still in the form.
  const conflict = page.getByTestId('conflict');
  await expect(conflict.getByRole('row', { name: /Description/ })).toContainText('Closed');
  await expect(conflict.getByRole('row', { name: /Category/ })).toContainText('Injuries of the hip and thigh');
  await expect(conflict.getByRole('row', { name: /Category/ })).toContainText('changed by someone else');
  // The form holds this tab's wording merged onto the other tab's save.
  await expect(form.getByLabel('Description', { exact: true })).toHaveValue('Closed fracture of neck of femur');
  await expect(form.getByLabel('Category')).toHaveValue('Injuries of the hip and thigh');
  await form.getByRole('button', { name: 'Save changes' }).click();
  await expectVersion(page, 4);
  await expect(page.getByRole('status')).toHaveText('Saved as version 4.');
  await expect(current).toContainText('Closed fracture of neck of femur');
  await expect(current).toContainText('Injuries of the hip and thigh');
  await expect(page.getByRole('heading', { name: 'Someone else saved this code first' })).toHaveCount(0);
});

test('codes are found by words and by code prefix; a code\'s history is compared, restored and commented on', async ({
  page,
}) => {
  await owner(page);
  await open(page, '/codes');
  await seedCode(page, { code: 'S72.1', description: 'Pertrochanteric fracture', category: 'Injury' });
  await seedCode(page, { code: 'A00.0', description: 'Cholera due to Vibrio cholerae', category: 'Infectious' });
  const path = await createCode(page, { code: 'S72.0', description: 'Fracture of neck of femur', category: 'Injury' });

  // Words in any order, word prefixes.
  await open(page, '/codes');
  await page.getByLabel('Search').fill('femur fract');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/[?&]q=femur(\+|%20)fract/);
  const rows = page.getByTestId('codes').locator('tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-code', 'S72.0');

  // A code prefix.
  await page.getByLabel('Search').fill('s72');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/[?&]q=s72/);
  await expect(rows).toHaveCount(2);
  await expect(page.getByTestId('codes').locator('tr[data-code="A00.0"]')).toHaveCount(0);

  // Two more versions.
  await page.getByRole('link', { name: 'S72.0', exact: true }).click();
  await expect(page).toHaveURL((url) => url.pathname === path);
  await edit(page, { description: 'Closed fracture of neck of femur' });
  await expectVersion(page, 2);
  await edit(page, { description: 'Closed fracture of neck of right femur', comment: 'Side matters' });
  await expectVersion(page, 3);

  // The timeline, newest first.
  const timeline = page.getByTestId('timeline').locator(':scope > li');
  await expect(timeline).toHaveCount(3);
  await expect(timeline.nth(0).getByRole('heading', { level: 3 })).toHaveText('Version 3 · Updated');
  await expect(timeline.nth(0)).toContainText('Why: Side matters');
  await expect(timeline.nth(0)).toContainText('Changed: description');
  await expect(timeline.nth(2).getByRole('heading', { level: 3 })).toHaveText('Version 1 · Created');

  // Version 1 against version 3, side by side, changed words marked.
  await page.getByLabel('From', { exact: true }).selectOption({ label: 'Version 1' });
  await page.getByLabel('To', { exact: true }).selectOption({ label: 'Version 3' });
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page).toHaveURL(/from=1&to=3/);
  const compare = page.getByTestId('compare');
  await expect(compare.locator('caption')).toHaveText('Version 1 and version 3 compared');
  const description = compare.getByRole('row', { name: /Description/ });
  await expect(description).toContainText('changed');
  await expect(description.locator('ins', { hasText: 'Closed' })).toHaveCount(1);
  await expect(description.locator('ins', { hasText: 'right' })).toHaveCount(1);
  await expect(description.locator('del', { hasText: 'Fracture' })).toHaveCount(1);
  await expect(compare.getByRole('row', { name: /Category/ })).not.toContainText('changed');

  // Restore version 1, as a new version 4.
  await versionItem(page, 1).getByText('Restore this version', { exact: true }).click();
  await versionItem(page, 1).getByRole('button', { name: 'Yes, restore version 1' }).click();
  await expectVersion(page, 4);
  await expect(page.getByTestId('current-values')).toContainText('Fracture of neck of femur');
  await expect(versionItem(page, 4).getByRole('heading', { level: 3 })).toHaveText('Version 4 · Restored');
  await expect(versionItem(page, 4)).toContainText('Why: Restored version 1');

  // A comment on version 4, then edited by its author.
  await versionItem(page, 4).getByText('Comment on version 4', { exact: true }).click();
  await versionItem(page, 4).getByLabel('Your comment on version 4').fill('Back to the original wording.');
  await versionItem(page, 4).getByRole('button', { name: 'Add comment' }).click();
  const comment = versionItem(page, 4).locator('li.comment');
  await expect(comment).toHaveCount(1);
  await expect(comment.locator('.comment-body')).toHaveText('Back to the original wording.');
  await comment.getByText('Edit comment', { exact: true }).click();
  await comment.getByLabel('Your comment').fill('Back to the original wording, as agreed.');
  await comment.getByRole('button', { name: 'Save comment' }).click();
  await expect(comment.locator('.comment-body')).toHaveText('Back to the original wording, as agreed.');
  await expect(comment).toContainText('(edited)');

  // Delete behind a confirmation, then restore the deleted code.
  await page.getByText('Delete S72.0…').click();
  await page.getByLabel('Yes, delete S72.0').check();
  await page.getByRole('button', { name: 'Delete code' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Deleted');
  await expectVersion(page, 5);
  await page.getByRole('button', { name: 'Restore S72.0' }).click();
  await expectVersion(page, 6);
  await expect(page.getByRole('heading', { level: 1 })).not.toContainText('Deleted');

  // The dashboard counts the codes and links the latest change.
  await open(page, '/dashboard');
  await expect(page.getByTestId('code-count')).toContainText('3');
  await page.getByTestId('recent-changes').getByRole('link', { name: 'S72.0' }).first().click();
  await expect(page).toHaveURL((url) => url.pathname === path);
});

test('a CSV file is imported with a progress bar and a summary, and a bad file names its line', async ({
  page,
  javaScriptEnabled,
}) => {
  test.skip(!javaScriptEnabled, 'the upload needs JavaScript');
  await owner(page);
  await open(page, '/codes/import');
  await expect(page.getByRole('heading', { level: 1, name: 'Import codes' })).toBeVisible();
  const good = [
    'code,description,category,severity,active',
    'B01,Varicella,Infectious,low,true',
    'B02,Zoster,Infectious,medium,true',
    'S72.0,Fracture of neck of femur,Injury,high,true',
  ].join('\n');
  await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'codes.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await page.getByRole('button', { name: 'Import' }).click();
  const summary = page.getByTestId('import-summary');
  await expect(summary.getByRole('heading', { name: 'Import done' })).toBeVisible();
  await expect(summary).toContainText('Rows in the file3');
  await expect(summary).toContainText('Created3');
  await expect(summary.getByRole('link', { name: 'Undo this import' })).toHaveAttribute('href', /^\/codes\/imports\/[0-9a-f-]{36}$/);
  const bar = page.getByRole('progressbar');
  await expect(bar).toBeVisible();
  const max = await bar.getAttribute('max');
  expect(Number(max)).toBe(Buffer.byteLength(good));
  await expect(bar).toHaveAttribute('value', max!);

  // A dry run of a file with one changed row writes nothing.
  const changed = good.replace('Zoster', 'Herpes zoster');
  await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'codes.csv', mimeType: 'text/csv', buffer: Buffer.from(changed) });
  await page.getByRole('checkbox', { name: /Dry run/ }).check();
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(summary.getByRole('heading', { name: 'Dry run: nothing was written' })).toBeVisible();
  await expect(summary).toContainText('Updated1');
  await expect(summary).toContainText('Unchanged2');
  await expect(summary.getByRole('link', { name: 'Undo this import' })).toHaveCount(0);

  // One bad row: nothing is written, and its line is named.
  const bad = `${changed}\nB03,,Infectious,urgent,true\n`;
  await page.getByRole('checkbox', { name: /Dry run/ }).uncheck();
  await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await page.getByRole('button', { name: 'Import' }).click();
  const errors = page.getByTestId('import-errors');
  await expect(errors.getByRole('heading', { name: 'Nothing was imported' })).toBeVisible();
  await expect(errors.getByRole('row').nth(1).getByRole('cell').first()).toHaveText('5');

  await open(page, '/codes?q=zoster');
  await expect(page.getByTestId('codes').locator('tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('codes')).toContainText('Zoster');
  await expect(page.getByTestId('codes')).not.toContainText('Herpes');
});

test('without JavaScript the import page says it needs it', async ({ page, javaScriptEnabled }) => {
  test.skip(javaScriptEnabled, 'only without JavaScript');
  await owner(page);
  await open(page, '/codes/import');
  await expect(page.getByText('Importing in the browser needs JavaScript')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Import' })).toBeDisabled();
});

test('the list pages on with a Next page link that keeps the search, and back with First page', async ({ page }) => {
  await owner(page);
  const rows = Array.from({ length: 55 }, (_, i) => `T${String(i).padStart(2, '0')}.1,Test code ${i},Tests,high,true`);
  const imported = await page.request.post('/codes/import?file_name=many.csv', {
    data: Buffer.from(['code,description,category,severity,active', ...rows, 'A00,Cholera,Infectious,low,true'].join('\n')),
  });
  expect(imported.status(), await imported.text()).toBe(200);

  await open(page, '/codes?severity=high');
  const table = page.getByTestId('codes').locator('tbody tr');
  await expect(table).toHaveCount(50);
  await expect(table.first()).toHaveAttribute('data-code', 'T00.1');
  await expect(page.getByRole('link', { name: 'First page' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Next page' }).click();
  await expect(page).toHaveURL(/severity=high.*after=|after=.*severity=high/);
  await expect(table).toHaveCount(5);
  await expect(table.first()).toHaveAttribute('data-code', 'T50.1');
  await expect(page.getByRole('link', { name: 'Next page' })).toHaveCount(0);
  await expect(page.getByLabel('Severity')).toHaveValue('high');
  await page.getByRole('link', { name: 'First page' }).click();
  await expect(table).toHaveCount(50);
  await expect(page).not.toHaveURL(/after=/);

  // A code that is not there is a real 404 with a way back.
  for (const missing of ['/codes/00000000-0000-4000-8000-000000000000', '/codes/not-a-code']) {
    const response = await open(page, missing);
    expect(response?.status(), missing).toBe(404);
    await expect(page.getByRole('alert')).toContainText('There is no such code in this organization.');
  }
});
