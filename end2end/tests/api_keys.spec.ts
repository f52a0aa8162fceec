import { request as apiRequest } from '@playwright/test';
import { expect, newAccount, open, signUp, test } from './helpers';

// Signs up (a deliberately slow password hash in a debug build) and drives
// several pages: give it three times the default.
test.slow();

/** A GET of the REST API with `key`, from a client that has no cookies. */
async function callApi(baseURL: string, key: string): Promise<number> {
  const api = await apiRequest.newContext({ baseURL });
  try {
    const response = await api.get('/api/v1/codes', { headers: { Authorization: `Bearer ${key}` } });
    return response.status();
  } finally {
    await api.dispose();
  }
}

test('an owner creates a key, copies it once, uses it, sees it used and revokes it', async ({ page, javaScriptEnabled, baseURL }) => {
  await signUp(page, newAccount('Kim'));
  await expect(page).toHaveURL(/\/dashboard$/);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API keys' })).toBeVisible();
  await expect(page.getByText('No API keys yet.')).toBeVisible();

  await page.getByLabel('Name').fill('Billing sync');
  await page.getByLabel('codes:read').check();
  await page.getByRole('button', { name: 'Create key' }).click();

  const dialog = page.getByRole('dialog', { name: 'API key' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByText('This secret is shown only once.')).toBeVisible();
  const field = dialog.getByLabel('API key');
  await expect(field).toHaveValue(/^cb_live_[A-Za-z0-9]{30}_[A-Za-z0-9]{6}$/);
  await expect(field).toBeFocused();
  const key = await field.inputValue();
  if (javaScriptEnabled) {
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await expect(dialog.getByRole('status')).toContainText(/Copied|selected/);
  } else {
    // Nothing to press without JavaScript: the field is there to select.
    await expect(dialog.getByRole('button', { name: 'Copy' })).toHaveCount(0);
  }
  await dialog.getByRole('button', { name: 'Done: I have stored it' }).click();
  await expect(dialog).toHaveCount(0);

  const row = page.getByTestId('api-keys').locator('tr[data-key-name="Billing sync"]');
  await expect(row).toContainText('codes:read');
  await expect(row.getByTestId('key-status')).toHaveText('Live');
  await expect(row.getByTestId('key-last-used')).toHaveText('Never');
  await expect(row).toContainText(key.slice(0, 'cb_live_'.length + 8));
  await expect(page.getByText(key)).toHaveCount(0);

  expect(await callApi(baseURL!, key)).toBe(200);

  await open(page, '/api-keys');
  await expect(row.getByTestId('key-requests')).toHaveText('1');
  await expect(row.getByTestId('key-last-used')).toContainText('127.0.0.1');

  await row.getByText('Revoke Billing sync…').click();
  await row.getByLabel('Yes, stop this key now').check();
  await row.getByRole('button', { name: 'Revoke key' }).click();
  await expect(row.getByTestId('key-status')).toHaveText('Revoked');

  expect(await callApi(baseURL!, key)).toBe(401);

  // The key was shown once: the page does not show it again.
  await open(page, '/api-keys');
  await expect(page.getByRole('dialog', { name: 'API key' })).toHaveCount(0);
});

test('without JavaScript a key with an expiry is created, listed and revoked with plain forms', async ({ page, javaScriptEnabled }) => {
  test.skip(javaScriptEnabled, 'The forms are the same with JavaScript on; the test above covers both.');
  await signUp(page, newAccount('Kai'));
  await expect(page).toHaveURL(/\/dashboard$/);
  await open(page, '/api-keys');
  await expect(page.getByRole('heading', { level: 1, name: 'API keys' })).toBeVisible();

  await page.getByLabel('Name').fill('Nightly export');
  await page.getByLabel('codes:write').check();
  await page.getByLabel('Expires after (days)').fill('30');
  await page.getByRole('button', { name: 'Create key' }).click();

  await open(page, '/api-keys');
  const row = page.getByTestId('api-keys').locator('tr[data-key-name="Nightly export"]');
  await expect(row).toContainText('codes:write');
  await expect(row.getByTestId('key-status')).toContainText('Live; expires');

  await row.getByText('Revoke Nightly export…').click();
  await row.getByLabel('Yes, stop this key now').check();
  await row.getByRole('button', { name: 'Revoke key' }).click();
  await open(page, '/api-keys');
  await expect(row.getByTestId('key-status')).toHaveText('Revoked');
});
