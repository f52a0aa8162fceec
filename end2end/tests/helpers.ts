import { test as base, expect, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test';

export { expect };

/**
 * The Playwright `test`, plus a check run around every test: the browser saw
 * no uncaught script error, no error in the console and no hydration
 * warning, and every /pkg/ asset (wasm, js, css) loaded. (The server renders
 * every page; with JavaScript the browser hydrates it and the app's router
 * moves between pages from then on.)
 */
export const test = base.extend<{ browserHealth: void }>({
  browserHealth: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`uncaught error in the page: ${error.message}`));
      // Leptos logs where hydration failed just before it panics; keep that
      // (and the page's address), as the panic itself only says "unreachable".
      page.on('console', (message) => {
        const where = new URL(page.url()).pathname;
        if (message.type() === 'error' && message.text().startsWith('A hydration error occurred')) {
          const element = /defined at (\S+?)\.?\n/.exec(message.text())?.[1] ?? 'unknown';
          problems.push(`hydration error on ${where} (element defined at ${element})`);
        } else if (message.type() === 'error' && !expectedConsoleError(message.text())) {
          problems.push(`console error on ${where}: ${message.text()}`);
        } else if (message.type() === 'warning' && /hydrat/i.test(message.text())) {
          problems.push(`hydration warning on ${where}: ${message.text()}`);
        }
      });
      page.on('response', (response) => {
        const url = new URL(response.url());
        if (url.pathname.startsWith('/pkg/') && response.status() >= 400 && !response.headers()[GONE_ON_PURPOSE]) {
          problems.push(`${response.status()} for ${url.pathname}`);
        }
      });
      await use();
      expect([...new Set(problems)], 'problems seen in the browser').toEqual([]);
    },
    { auto: true },
  ],
});

/**
 * The header of an answer a test fakes to remove a file on purpose (as a
 * deploy would): the check above does not count it as a problem.
 */
export const GONE_ON_PURPOSE = 'x-codebook-test-gone';

/**
 * Console errors the browser itself logs for answers the tests provoke on
 * purpose: a refused form's status (4xx) is logged as a failed resource.
 */
function expectedConsoleError(text: string): boolean {
  return /^Failed to load resource: the server responded with a status of 4\d\d/.test(text);
}

export interface NewAccount {
  name: string;
  email: string;
  password: string;
  organization: string;
}

/** A short random suffix, so parallel tests and re-runs never collide. */
export function uniqueSuffix(): string {
  return `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh account that no other test uses. */
export function newAccount(firstName = 'Ada'): NewAccount {
  const suffix = uniqueSuffix();
  return {
    name: `${firstName} Lovelace`,
    email: `${firstName.toLowerCase()}-${suffix}@example.com`,
    password: 'correct horse battery staple',
    organization: `Analytical Engines ${suffix}`,
  };
}

/**
 * Opens a page. With JavaScript on it waits until the wasm has loaded and
 * run (the entry point marks `<html data-hydrated>`; a page that fails to
 * load its wasm fails here), and the network is quiet, before the test types
 * into it. With JavaScript off the `load` event is enough (the page still
 * preloads the wasm, which nothing runs).
 */
export async function open(page: Page, path: string) {
  const javaScriptEnabled = test.info().project.use.javaScriptEnabled !== false;
  const response = await page.goto(path, { waitUntil: javaScriptEnabled ? 'networkidle' : 'load' });
  if (javaScriptEnabled) {
    await expect(page.locator('html'), `${path} hydrated`).toHaveAttribute('data-hydrated', '');
  }
  return response;
}

/** Fills in and submits the sign-up form. Does not check the outcome. */
export async function signUp(page: Page, account: NewAccount): Promise<void> {
  await open(page, '/signup');
  await expect(page.getByRole('heading', { level: 1, name: 'Create your account' })).toBeVisible();
  await page.getByLabel('Your name').fill(account.name);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password', { exact: true }).fill(account.password);
  await page.getByLabel('Organization name').fill(account.organization);
  await page.getByRole('button', { name: 'Create account' }).click();
}

/** Fills in and submits the log-in form. Does not check the outcome. */
export async function logIn(page: Page, email: string, password: string): Promise<void> {
  await open(page, '/login');
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

/** Clicks "Log out" in the header and waits for the log-in page. */
export async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}

/** Expects the URL's path (ignoring any query string) to be `path`. */
export async function expectPath(page: Page, path: string): Promise<void> {
  await expect(page).toHaveURL((url) => url.pathname === path);
}

/**
 * The roles of an organization, as the role pickers label them (the label is
 * also what a member row shows for those the viewer may not manage).
 */
export type RoleLabel = 'Owner' | 'Admin' | 'Manager' | 'Member' | 'Viewer';

/**
 * A new browser context (a second, independent visitor) with the same
 * JavaScript setting as the running project, and a page in it. Close the
 * context when done.
 */
export async function newVisitor(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const javaScriptEnabled = test.info().project.use.javaScriptEnabled !== false;
  const context = await browser.newContext({ javaScriptEnabled });
  const page = await context.newPage();
  return { context, page };
}

/** The row of the member with this email in the table on /members. */
export function memberRow(page: Page, email: string): Locator {
  return page.getByTestId('members').locator(`tr[data-email="${email}"]`);
}

/** The row of the pending invitation for this email on /members. */
export function invitationRow(page: Page, email: string): Locator {
  return page.getByTestId('invitations').locator(`tr[data-email="${email}"]`);
}

/**
 * Invites `email` into the current organization with `role`, from /members,
 * and waits until the invitation is listed as pending.
 */
export async function invite(page: Page, email: string, role: RoleLabel = 'Member'): Promise<void> {
  await open(page, '/members');
  await expect(page.getByRole('heading', { level: 2, name: 'Invite someone' })).toBeVisible();
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Role', { exact: true }).selectOption({ label: role });
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByRole('status')).toHaveText(`Invitation sent to ${email}.`);
  await expect(invitationRow(page, email)).toBeVisible();
  await expect(invitationRow(page, email).getByRole('cell').nth(1)).toHaveText(role);
}

/**
 * The invitation link last mailed to `email`, as a path (`/invite/<token>`),
 * read from the development outbox at /dev/mail (newest mail first).
 */
export async function invitationLink(page: Page, email: string): Promise<string> {
  await open(page, '/dev/mail');
  const mail = page.locator(`article.mail[data-to="${email}"]`).first();
  const link = mail.locator('a[href*="/invite/"]');
  await expect(link).toHaveCount(1);
  const href = await link.getAttribute('href');
  expect(href, `the invitation link mailed to ${email}`).toMatch(/\/invite\/[^/?#]+$/);
  return new URL(href!, page.url()).pathname;
}

/**
 * On an invitation page opened by nobody signed in, for an address without an
 * account: creates the account and joins. Does not check the outcome.
 */
export async function acceptWithNewAccount(page: Page, name: string, password: string): Promise<void> {
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account and join' }).click();
}

/** The organizations the header's menu offers to switch to (it opens the menu). */
export async function organizationChoices(page: Page): Promise<Locator> {
  const menu = page.locator('details.org-menu');
  if ((await menu.getAttribute('open')) === null) {
    await page.getByTestId('current-org').click();
  }
  return page.getByRole('list', { name: 'Switch to' });
}

/** Switches to another organization with the header's organization menu. */
export async function switchOrganization(page: Page, organization: string): Promise<void> {
  const choices = await organizationChoices(page);
  await choices.getByRole('button', { name: organization }).click();
}

/**
 * On /members, gives the member with this email and name another role, and
 * waits until the server has answered (with JavaScript the page does not
 * visibly change, as the select already shows the new role).
 */
export async function changeRole(page: Page, email: string, name: string, role: RoleLabel): Promise<void> {
  const row = memberRow(page, email);
  await row.getByLabel(`Role of ${name}`).selectOption({ label: role });
  const answered = page.waitForResponse(
    (response) =>
      new URL(response.url()).pathname.endsWith('/members/change_role') &&
      response.request().method() === 'POST',
  );
  await row.getByRole('button', { name: 'Change role' }).click();
  const response = await answered;
  expect(response.status(), 'status of the role change').toBeLessThan(400);
}

/**
 * The platform admin of the running project: the e2e server makes
 * `platform-admin-<project>@example.com` a platform admin when it signs up
 * (CODEBOOK_PLATFORM_ADMINS in scripts/e2e-server.sh).
 */
export function platformAdminAccount(): NewAccount {
  return { ...newAccount('Root'), email: `platform-admin-${test.info().project.name}@example.com` };
}

/**
 * Signs the project's platform admin in: the first test to get here signs
 * the account up, any later one (or one that loses the race to sign up)
 * logs in, so specs may use it in any order and in parallel.
 */
export async function signInAsPlatformAdmin(page: Page): Promise<void> {
  const admin = platformAdminAccount();
  await signUp(page, admin);
  const taken = page.getByRole('alert').filter({ hasText: 'already exists' });
  await expect(page.getByTestId('current-org').or(taken)).toBeVisible();
  if (await taken.isVisible()) {
    await logIn(page, admin.email, admin.password);
  }
  await expectPath(page, '/dashboard');
}

/**
 * What the focused element looks like: whether it is the page itself
 * (nothing focused), its place in the document (to notice when Tab has come
 * round again), a description for messages, and whether it shows a focus
 * ring (a real outline while it matches :focus-visible).
 */
export interface Focused {
  none: boolean;
  index: number;
  description: string;
  ring: boolean;
}

export async function focused(page: Page): Promise<Focused> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body || el === document.documentElement) {
      return { none: true, index: -1, description: 'nothing', ring: false };
    }
    const style = getComputedStyle(el);
    const name = (el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40);
    const rect = el.getBoundingClientRect();
    return {
      none: false,
      index: Array.prototype.indexOf.call(document.querySelectorAll('*'), el),
      description: `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}> "${name}"`,
      ring:
        el.matches(':focus-visible') &&
        style.outlineStyle !== 'none' &&
        parseFloat(style.outlineWidth) >= 2 &&
        rect.width > 0 &&
        rect.height > 0,
    };
  });
}

/**
 * Presses Tab until `target` has the focus, as a keyboard user would, and
 * expects it to show a focus ring. Fails if it is not reached within
 * `maxPresses` presses.
 */
export async function tabTo(page: Page, target: Locator, maxPresses = 80): Promise<void> {
  for (let i = 0; i < maxPresses; i++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el) => el === document.activeElement)) {
      const now = await focused(page);
      expect(now.ring, `focus ring on ${now.description}`).toBe(true);
      return;
    }
  }
  throw new Error(`Tab did not reach ${target} within ${maxPresses} presses`);
}
