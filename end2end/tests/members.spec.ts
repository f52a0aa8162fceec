import {
  acceptWithNewAccount,
  changeRole,
  expect,
  expectPath,
  invitationLink,
  invite,
  logIn,
  logOut,
  memberRow,
  newAccount,
  newVisitor,
  open,
  signUp,
  organizationChoices,
  switchOrganization,
  test,
  uniqueSuffix,
} from './helpers';

// Each test signs up two or three accounts (a deliberately slow password hash
// in a debug build) and drives two users: give them three times the default.
test.slow();

test('an owner invites a colleague who joins from the mailed link; the owner changes their role and removes them', async ({
  page,
  browser,
}) => {
  const owner = newAccount('Ada');
  const colleague = { name: `Charles Babbage ${uniqueSuffix()}`, email: `charles-${uniqueSuffix()}@example.com` };

  await signUp(page, owner);
  await expect(page).toHaveURL(/\/dashboard$/);
  await invite(page, colleague.email, 'Member');
  const link = await invitationLink(page, colleague.email);

  const other = await newVisitor(browser);
  try {
    const colleaguePage = other.page;

    // The colleague opens the mailed link and creates their account.
    await open(colleaguePage, link);
    await expect(
      colleaguePage.getByRole('heading', { level: 1, name: `Join ${owner.organization}` }),
    ).toBeVisible();
    await expect(
      colleaguePage.getByText(`You are invited to join ${owner.organization} as Member.`),
    ).toBeVisible();
    await acceptWithNewAccount(colleaguePage, colleague.name, 'another horse battery staple');
    await expect(colleaguePage).toHaveURL(/\/dashboard$/);
    await expect(colleaguePage.getByRole('heading', { level: 1, name: owner.organization })).toBeVisible();
    await expect(colleaguePage.getByTestId('current-org')).toHaveText(owner.organization);

    // As a Member they can neither invite nor change roles.
    await open(colleaguePage, '/members');
    await expect(colleaguePage.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
    await expect(memberRow(colleaguePage, owner.email)).toContainText('Owner');
    await expect(memberRow(colleaguePage, colleague.email)).toContainText('Member');
    await expect(colleaguePage.getByRole('button', { name: 'Send invitation' })).toHaveCount(0);
    await expect(colleaguePage.getByRole('button', { name: 'Change role' })).toHaveCount(0);

    // The owner sees the colleague and makes them an Admin.
    await open(page, '/members');
    const row = memberRow(page, colleague.email);
    const roleSelect = row.getByLabel(`Role of ${colleague.name}`);
    await expect(roleSelect).toHaveValue('member');
    await changeRole(page, colleague.email, colleague.name, 'Admin');
    await expect(page.getByRole('alert')).toHaveCount(0);
    // Reload to see what the server stored, not what the select shows.
    await open(page, '/members');
    await expect(memberRow(page, colleague.email).getByLabel(`Role of ${colleague.name}`)).toHaveValue('admin');

    // The colleague's next page shows what an Admin may do.
    await open(colleaguePage, '/members');
    await expect(memberRow(colleaguePage, colleague.email)).toContainText('Admin');
    await expect(colleaguePage.getByRole('heading', { level: 2, name: 'Invite someone' })).toBeVisible();
    await expect(colleaguePage.getByRole('button', { name: 'Send invitation' })).toBeVisible();

    // The owner removes the colleague.
    await memberRow(page, colleague.email).getByRole('button', { name: `Remove ${colleague.name}` }).click();
    await expect(memberRow(page, colleague.email)).toHaveCount(0);
    await expect(memberRow(page, owner.email)).toBeVisible();

    // The colleague belongs to no organization any more.
    await open(colleaguePage, '/members');
    await expect(
      colleaguePage.getByRole('alert').filter({ hasText: 'You are not a member of any organization.' }),
    ).toBeVisible();
    await expect(colleaguePage.getByTestId('members')).toHaveCount(0);
    await open(colleaguePage, '/dashboard');
    await expect(
      colleaguePage.getByRole('alert').filter({ hasText: 'You are not a member of any organization.' }),
    ).toBeVisible();
    await expect(colleaguePage.getByRole('heading', { level: 1, name: owner.organization })).toHaveCount(0);
  } finally {
    await other.context.close();
  }
});

test('a user in two organizations switches between them and sees only the current one\'s members', async ({
  page,
}) => {
  const x = newAccount('Xavier');
  const y = newAccount('Yvonne');
  x.organization = `X Org ${uniqueSuffix()}`;
  y.organization = `Y Org ${uniqueSuffix()}`;

  // Y has an account (and an organization of their own) before being invited.
  await signUp(page, y);
  await expect(page).toHaveURL(/\/dashboard$/);
  await logOut(page);

  // X invites Y as a Viewer.
  await signUp(page, x);
  await expect(page).toHaveURL(/\/dashboard$/);
  await invite(page, y.email, 'Viewer');
  const link = await invitationLink(page, y.email);
  await open(page, '/dashboard');
  await logOut(page);

  // Y logs in and accepts.
  await logIn(page, y.email, y.password);
  await expect(page).toHaveURL(/\/dashboard$/);
  await open(page, link);
  await expect(page.getByRole('heading', { level: 1, name: `Join ${x.organization}` })).toBeVisible();
  await expect(page.getByText(`You are invited to join ${x.organization} as Viewer.`)).toBeVisible();
  await page.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole('heading', { level: 1, name: x.organization })).toBeVisible();
  await expect(page.getByTestId('current-org')).toHaveText(x.organization);

  // X's organization: X (owner) and Y (viewer), nobody else.
  const members = page.getByRole('table');
  await expect(members.locator('tbody tr')).toHaveCount(2);
  await expect(members.getByRole('row').filter({ hasText: x.email })).toContainText('Owner');
  await expect(members.getByRole('row').filter({ hasText: y.email })).toContainText('Viewer');

  // Y switches to their own organization.
  const choices = await organizationChoices(page);
  await expect(choices.getByRole('button')).toHaveCount(1);
  await expect(choices.getByRole('button', { name: `${y.organization} Owner` })).toBeVisible();
  await switchOrganization(page, y.organization);
  await expectPath(page, '/dashboard');
  await expect(page.getByRole('heading', { level: 1, name: y.organization })).toBeVisible();
  await expect(page.getByTestId('current-org')).toHaveText(y.organization);
  await expect(members.locator('tbody tr')).toHaveCount(1);
  await expect(members.getByRole('row').filter({ hasText: y.email })).toContainText('Owner');
  await expect(members.getByRole('row').filter({ hasText: x.email })).toHaveCount(0);

  // The members page agrees, and the choice sticks across requests.
  await open(page, '/members');
  await expect(page.getByTestId('current-org')).toHaveText(y.organization);
  await expect(page.getByTestId('members').locator('tbody tr')).toHaveCount(1);
  await expect(memberRow(page, y.email)).toBeVisible();
  await expect(memberRow(page, x.email)).toHaveCount(0);
});

test('an invitation link works once', async ({ page, browser }) => {
  const owner = newAccount('Grace');
  const invitee = { name: `Alan Turing ${uniqueSuffix()}`, email: `alan-${uniqueSuffix()}@example.com` };

  await signUp(page, owner);
  await expect(page).toHaveURL(/\/dashboard$/);
  await invite(page, invitee.email, 'Member');
  const link = await invitationLink(page, invitee.email);

  const first = await newVisitor(browser);
  try {
    await open(first.page, link);
    await acceptWithNewAccount(first.page, invitee.name, 'another horse battery staple');
    await expect(first.page).toHaveURL(/\/dashboard$/);
    await expect(first.page.getByRole('heading', { level: 1, name: owner.organization })).toBeVisible();
  } finally {
    await first.context.close();
  }

  const second = await newVisitor(browser);
  try {
    await open(second.page, link);
    await expect(second.page.getByRole('heading', { level: 1, name: 'Invitation not valid' })).toBeVisible();
    await expect(second.page.getByRole('alert')).toBeVisible();
    await expect(second.page.getByRole('button', { name: 'Create account and join' })).toHaveCount(0);
  } finally {
    await second.context.close();
  }
});

test('the only owner is told why they cannot leave; once there is a second owner they can', async ({
  page,
  browser,
}) => {
  const owner = newAccount('Sol');
  const partner = { name: `Paula Pair ${uniqueSuffix()}`, email: `paula-${uniqueSuffix()}@example.com` };

  await signUp(page, owner);
  await expect(page).toHaveURL(/\/dashboard$/);
  await open(page, '/members');
  const leaving = page.getByRole('region', { name: 'Leave this organization' });
  await expect(leaving).toContainText('You are the only owner; make someone else owner before leaving.');
  await expect(page.getByRole('button', { name: 'Leave organization' })).toHaveCount(0);

  // A second owner joins.
  await invite(page, partner.email, 'Owner');
  const link = await invitationLink(page, partner.email);
  const other = await newVisitor(browser);
  try {
    await open(other.page, link);
    await acceptWithNewAccount(other.page, partner.name, 'another horse battery staple');
    await expect(other.page).toHaveURL(/\/dashboard$/);
  } finally {
    await other.context.close();
  }

  await open(page, '/members');
  await expect(memberRow(page, partner.email).getByLabel(`Role of ${partner.name}`)).toHaveValue('owner');
  await expect(leaving).not.toContainText('You are the only owner');
  await page.getByRole('button', { name: 'Leave organization' }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(
    page.getByRole('alert').filter({ hasText: 'You are not a member of any organization.' }),
  ).toBeVisible();
});
