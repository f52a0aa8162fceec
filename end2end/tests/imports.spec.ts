import { Page } from '@playwright/test';
import { expect, newAccount, open, signUp, test } from './helpers';

// Signs up (a deliberately slow password hash in a debug build) and drives
// several pages: give it three times the default.
test.slow();

/** Imports a CSV file through the import route (test data); its import id. */
async function importFile(page: Page, fileName: string, lines: string[]): Promise<string> {
  const response = await page.request.post(`/codes/import?file_name=${fileName}&delete_missing=true`, {
    data: Buffer.from(['code,description,category', ...lines].join('\n')),
  });
  expect(response.status(), await response.text()).toBe(200);
  const report = await response.json();
  return report.summary.import_id;
}

test('a manager undoes an import from the history and sees the codes restored', async ({ page }) => {
  await signUp(page, newAccount('Una'));
  await expect(page).toHaveURL(/\/dashboard$/);
  await importFile(page, 'first.csv', ['A00,Cholera,Infectious', 'B01,Varicella,Infectious']);
  await importFile(page, 'second.csv', ['A00,Cholera (renamed),Infectious', 'C02,Brand new,New']);

  await open(page, '/codes');
  await page.getByRole('link', { name: 'Import history' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Import history' })).toBeVisible();
  const history = page.getByTestId('imports').locator('tbody tr');
  await expect(history).toHaveCount(2);
  await expect(history.first().getByRole('rowheader')).toHaveText('second.csv');

  await page.getByRole('link', { name: 'Undo the import of second.csv' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Undo the import of second.csv' })).toBeVisible();
  const plan = page.getByTestId('undo-plan');
  await expect(plan).toContainText('1 reverted, 1 deleted, 1 restored');
  await plan.getByRole('button', { name: 'Undo import' }).click();

  await expect(page).toHaveURL(/\/codes\/imports$/);
  await expect(page.getByRole('status').filter({ hasText: 'The import of second.csv is undone' })).toBeVisible();
  await expect(history.first()).toContainText('Undone');
  await expect(page.getByRole('link', { name: 'Undo the import of second.csv' })).toHaveCount(0);

  await open(page, '/codes');
  const codes = page.getByTestId('codes').locator('tbody tr');
  await expect(codes).toHaveCount(2);
  await expect(page.locator('tr[data-code="A00"]')).toContainText('Cholera');
  await expect(page.locator('tr[data-code="A00"]')).not.toContainText('renamed');
  await expect(page.locator('tr[data-code="B01"]')).toBeVisible();
  await expect(page.locator('tr[data-code="C02"]')).toHaveCount(0);
});

test('an undo that would overwrite a later edit is refused and names the code', async ({ page }) => {
  await signUp(page, newAccount('Vic'));
  await expect(page).toHaveURL(/\/dashboard$/);
  await importFile(page, 'codes.csv', ['A00,Cholera,Infectious', 'B01,Varicella,Infectious']);
  const id = await importFile(page, 'update.csv', ['A00,Cholera v2,Infectious', 'B01,Varicella v2,Infectious']);

  // B01 is edited by hand after the import.
  await open(page, '/codes');
  await page.locator('tr[data-code="B01"]').getByRole('link', { name: 'B01' }).click();
  await page.getByLabel('Description', { exact: true }).fill('Varicella, edited by hand');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved as version 3.');

  await open(page, `/codes/imports/${id}`);
  const blocked = page.getByTestId('undo-blocked');
  await expect(blocked.getByRole('heading', { name: 'This import cannot be undone' })).toBeVisible();
  await expect(blocked.getByRole('alert')).toContainText('1 of its codes changed after it');
  await expect(blocked.getByRole('link', { name: 'B01' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Undo import' })).toHaveCount(0);

  const missing = await open(page, '/codes/imports/00000000-0000-4000-8000-000000000000');
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole('alert')).toContainText('There is no such import in this organization.');
});
