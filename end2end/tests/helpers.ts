import { test as base, expect, type Page } from '@playwright/test';

export { expect };

/**
 * The Playwright `test`, plus a check run around every test: the browser saw
 * no uncaught script error and every /pkg/ asset (wasm, js, css) loaded. With
 * JavaScript on, it also checks that no form was posted as a full-page
 * navigation, which only happens when the app failed to hydrate (the tests
 * would otherwise pass silently on the plain-HTML fallback).
 */
export const test = base.extend<{ browserHealth: void }>({
  browserHealth: [
    async ({ page, javaScriptEnabled }, use) => {
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`uncaught error in the page: ${error.message}`));
      page.on('response', (response) => {
        const url = new URL(response.url());
        if (url.pathname.startsWith('/pkg/') && response.status() >= 400) {
          problems.push(`${response.status()} for ${url.pathname}`);
        }
      });
      if (javaScriptEnabled) {
        page.on('request', (request) => {
          if (request.isNavigationRequest() && request.method() === 'POST') {
            problems.push(
              `with JavaScript on, ${new URL(request.url()).pathname} was posted as a page ` +
                'navigation instead of by the hydrated app: the page did not hydrate',
            );
          }
        });
      }
      await use();
      expect([...new Set(problems)], 'problems seen in the browser').toEqual([]);
    },
    { auto: true },
  ],
});

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
 * Opens a page. With JavaScript on it waits until the network is quiet, so
 * the wasm bundle has loaded and the page is hydrated before the test types
 * into it. With JavaScript off the `load` event is enough (the page still
 * preloads the wasm, which nothing will run, so waiting for it is wasted time).
 */
export async function open(page: Page, path: string) {
  const javaScriptEnabled = test.info().project.use.javaScriptEnabled !== false;
  return page.goto(path, { waitUntil: javaScriptEnabled ? 'networkidle' : 'load' });
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
