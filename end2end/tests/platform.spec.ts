import { expect, expectPath, newAccount, newVisitor, open, signInAsPlatformAdmin, signUp, test } from './helpers';

test('a platform admin deactivates an organization, its member is refused, and reactivates it', async ({
  page,
  browser,
}) => {
  const member = newAccount('Mia');
  const visitor = await newVisitor(browser);
  await signUp(visitor.page, member);
  await expectPath(visitor.page, '/dashboard');

  await signInAsPlatformAdmin(page);
  await open(page, `/platform/organizations?q=${encodeURIComponent(member.organization)}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Organizations' })).toBeVisible();
  const row = page.getByTestId('organizations').locator('tbody tr').filter({ hasText: member.organization });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('Active');

  await row.getByRole('button', { name: `Deactivate ${member.organization}` }).click();
  await expect(row.getByRole('button', { name: `Activate ${member.organization}` })).toBeVisible();
  await expect(row).toContainText('Inactive');

  await open(visitor.page, '/dashboard');
  await expect(visitor.page.getByRole('alert')).toContainText('This organization has been deactivated');

  await row.getByRole('button', { name: `Activate ${member.organization}` }).click();
  await expect(row.getByRole('button', { name: `Deactivate ${member.organization}` })).toBeVisible();
  await open(visitor.page, '/dashboard');
  await expect(visitor.page.getByRole('heading', { level: 1 })).toHaveText(member.organization);
  await visitor.context.close();
});

test('the Organizations page is for platform admins only', async ({ page }) => {
  await signUp(page, newAccount('Ned'));
  await expectPath(page, '/dashboard');
  await expect(page.getByRole('link', { name: 'Organizations' })).toHaveCount(0);
  await open(page, '/platform/organizations');
  await expect(page.getByRole('alert')).toContainText('Only platform administrators');
});
