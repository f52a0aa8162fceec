import { expect, expectPath, logIn, logOut, newAccount, open, signUp, test } from './helpers';

test('sign up, see the dashboard, log out, log in again', async ({ page }) => {
  const account = newAccount('Ada');

  await signUp(page, account);
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole('heading', { level: 1, name: account.organization })).toBeVisible();
  await expect(page.getByTestId('current-org')).toHaveText(account.organization);

  const members = page.getByRole('table');
  await expect(members.getByRole('columnheader')).toHaveText(['Name', 'Email', 'Role', 'Joined']);
  const me = members.getByRole('row').filter({ hasText: account.email });
  await expect(me).toHaveCount(1);
  await expect(me.getByRole('cell').nth(0)).toHaveText(account.name);
  await expect(me.getByRole('cell').nth(1)).toHaveText(account.email);
  await expect(me.getByRole('cell').nth(2)).toHaveText('Owner');

  await logOut(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();

  // Signed out, the dashboard sends us to the log-in page.
  await open(page, '/dashboard');
  await expect(page).toHaveURL(/\/login$/);

  await logIn(page, account.email, account.password);
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole('heading', { level: 1, name: account.organization })).toBeVisible();
  await expect(page.getByTestId('current-org')).toHaveText(account.organization);
});

test('a wrong password shows an error and stays on the login page', async ({ page }) => {
  const account = newAccount('Grace');
  await signUp(page, account);
  await expect(page).toHaveURL(/\/dashboard$/);
  await logOut(page);

  await logIn(page, account.email, 'not the right password');
  await expect(
    page.getByRole('alert').filter({ hasText: 'Email or password is incorrect.' }),
  ).toBeVisible();
  await expectPath(page, '/login');
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();

  // The failed attempt did not sign anyone in.
  await open(page, '/dashboard');
  await expect(page).toHaveURL(/\/login$/);
});

test('sign-up shows field errors for a short password and a duplicate email', async ({ page }) => {
  // A password that is too short.
  const tooShort = { ...newAccount('Alan'), password: 'short' };
  await signUp(page, tooShort);
  await expect(page.getByRole('alert').filter({ hasText: 'Use at least 10 characters.' })).toBeVisible();
  await expectPath(page, '/signup');
  // What was typed stays. Without JavaScript the server sends the form back
  // filled in, except the password, which it never sends; the running app
  // never left the page, so the password is still there to correct.
  await expect(page.getByLabel('Your name')).toHaveValue(tooShort.name);
  await expect(page.getByLabel('Email')).toHaveValue(tooShort.email);
  await expect(page.getByLabel('Organization name')).toHaveValue(tooShort.organization);
  const javaScriptEnabled = test.info().project.use.javaScriptEnabled !== false;
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue(javaScriptEnabled ? tooShort.password : '');

  // The same email twice.
  const account = newAccount('Katherine');
  await signUp(page, account);
  await expect(page).toHaveURL(/\/dashboard$/);
  await logOut(page);

  await signUp(page, { ...account, organization: `${account.organization} again` });
  await expect(
    page
      .getByRole('alert')
      .filter({ hasText: 'An account with this email already exists. Log in instead.' }),
  ).toBeVisible();
  await expectPath(page, '/signup');
});

test('an unknown page answers 404', async ({ page }) => {
  const response = await open(page, '/no-such-page');
  expect(response).not.toBeNull();
  expect(response!.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
});

test('signed out, every signed-in page sends the visitor to log in', async ({ page }) => {
  for (const path of ['/dashboard', '/members', '/settings', '/account', '/organizations/new', '/platform/organizations']) {
    await open(page, path);
    await expectPath(page, '/login');
    await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  }
});

test('the last owner of an organization is told to hand it over before deleting their account', async ({ page }) => {
  const account = newAccount('Barbara');
  await signUp(page, account);
  await expect(page).toHaveURL(/\/dashboard$/);
  await open(page, '/account');
  await page.getByText('Delete account…').click();
  await page.getByLabel('Your password, to confirm').fill('not my password at all');
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page.getByLabel('Your password, to confirm')).toHaveAttribute('aria-invalid', 'true');

  // The refusal keeps the form open.
  await page.getByLabel('Your password, to confirm').fill(account.password);
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page.getByRole('alert').filter({ hasText: `You are the last owner of ${account.organization}` })).toBeVisible();
  // Still signed in, account intact.
  await open(page, '/dashboard');
  await expect(page.getByRole('heading', { level: 1, name: account.organization })).toBeVisible();
});
