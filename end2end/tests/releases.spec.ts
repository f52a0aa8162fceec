import { Page } from '@playwright/test';
import { expect, newAccount, open, signUp, test } from './helpers';

// Signs up (a deliberately slow password hash in a debug build) and drives
// several pages: give it three times the default.
test.slow();

/** Creates a code straight through its server function (test data). */
async function seedCode(page: Page, code: string, description: string): Promise<void> {
  const response = await page.request.post('/api/codes/create', {
    form: { code, description, category: 'Injury', severity: 'high', active: 'on' },
  });
  expect(response.status(), await response.text()).toBeLessThan(300);
}

/** Cuts a release through the form on /releases and waits for its page. */
async function cutRelease(page: Page, name: string, description: string): Promise<void> {
  await open(page, '/releases');
  const form = page.getByRole('region', { name: 'Cut release' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Description').fill(description);
  await form.getByRole('button', { name: 'Cut release' }).click();
  await expect(page).toHaveURL(new RegExp(`/releases/${name.replace('.', '\\.')}$`));
  await expect(page.getByRole('heading', { level: 1, name: `Release ${name}` })).toBeVisible();
}

test('a manager cuts a release, browses it, and downloads its changelog as Markdown', async ({ page }) => {
  await signUp(page, newAccount('Rae'));
  await expect(page).toHaveURL(/\/dashboard$/);
  await seedCode(page, 'S72.0', 'Fracture of neck of femur');
  await seedCode(page, 'A00', 'Cholera');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Releases' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Releases' })).toBeVisible();
  await expect(page.getByText('No releases yet.')).toBeVisible();
  await cutRelease(page, '2026.1', 'First cut');
  await expect(page.getByText('2 codes, cut')).toBeVisible();
  const codes = page.getByTestId('release-codes');
  await expect(codes.locator('tr[data-code]')).toHaveCount(2);

  await page.getByLabel('Search this release').fill('femur');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(codes.locator('tr[data-code]')).toHaveCount(1);
  await expect(codes.locator('tr[data-code="S72.0"]')).toBeVisible();

  // A code added after the release is a change since it.
  await seedCode(page, 'B01', 'Varicella');
  await open(page, '/releases/2026.1');
  await page.getByRole('link', { name: 'Changes since this release' }).click();
  await expect(
    page.getByRole('heading', { level: 1, name: 'Changes from release 2026.1 to the live catalogue' }),
  ).toBeVisible();
  await expect(page.getByTestId('change-counts')).toHaveText('1 added, 0 removed, 0 changed.');
  await expect(page.getByTestId('changelog').locator('tr[data-change="added"]')).toHaveAttribute(
    'data-code',
    'B01',
  );

  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download Markdown' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('changelog-2026.1-to-live.md');
  const text = await (await file.createReadStream()).toArray();
  const markdown = Buffer.concat(text as Buffer[]).toString('utf8');
  expect(markdown).toContain('# Changes from release 2026.1 to the live catalogue');
  expect(markdown).toContain('- `B01` Varicella');

  // A second release compares with the first.
  await cutRelease(page, '2026.2', 'Second cut');
  await open(page, '/releases/2026.1/changelog');
  await page.getByLabel('Compare with').selectOption({ label: 'Release 2026.2' });
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(
    page.getByRole('heading', { level: 1, name: 'Changes from release 2026.1 to release 2026.2' }),
  ).toBeVisible();
  await expect(page.getByTestId('change-counts')).toHaveText('1 added, 0 removed, 0 changed.');
});

test('a release name that is taken or malformed is refused next to the field', async ({ page }) => {
  await signUp(page, newAccount('Sol'));
  await expect(page).toHaveURL(/\/dashboard$/);
  await cutRelease(page, 'v1', 'Empty catalogue');

  await open(page, '/releases');
  const form = page.getByRole('region', { name: 'Cut release' });
  await form.getByLabel('Name').fill('v1');
  await form.getByRole('button', { name: 'Cut release' }).click();
  await expect(form.getByText('There is already a release named v1')).toBeVisible();

  await form.getByLabel('Name').fill('no spaces');
  await form.getByRole('button', { name: 'Cut release' }).click();
  await expect(form.getByText(/Use up to 64 letters/)).toBeVisible();
  await open(page, '/releases');
  await expect(page.getByTestId('releases').locator('tr[data-release]')).toHaveCount(1);
});
