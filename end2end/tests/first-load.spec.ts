import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, newAccount, open, signUp, test } from './helpers';
import type { Browser, Page } from '@playwright/test';

// The wasm a browser downloads to make a page interactive, as Chromium's
// network saw it (gzipped bytes on the wire, empty cache), for one page of
// every kind. Prints the figures; fails when a page passes the ceiling that
// `cargo xtask build`'s budget holds (xtask/src/budget.rs, the one place it
// is set).
test.slow();
test.skip(({ javaScriptEnabled }) => !javaScriptEnabled, 'without JavaScript no wasm is run');

function budgetConstant(name: string): number {
  const source = readFileSync(join(dirname(test.info().config.configFile!), '../xtask/src/budget.rs'), 'utf8');
  const value = new RegExp(`pub const ${name}: u64 = ([0-9_]+);`).exec(source)?.[1];
  expect(value, `${name} in xtask/src/budget.rs`).toBeDefined();
  return Number(value!.replaceAll('_', ''));
}

/** Opens `path` in a fresh context (nothing cached) and sums the wasm it fetched. */
async function wasmOfFirstLoad(browser: Browser, storageState: object | undefined, path: string) {
  const context = await browser.newContext({ javaScriptEnabled: true, storageState: storageState as never });
  const page = await context.newPage();
  const fetched: Promise<number>[] = [];
  page.on('requestfinished', (request) => {
    if (new URL(request.url()).pathname.endsWith('.wasm')) {
      fetched.push(request.sizes().then((sizes) => sizes.responseBodySize));
    }
  });
  await open(page, path);
  const sizes = await Promise.all(fetched);
  await context.close();
  return { files: sizes.length, bytes: sizes.reduce((sum, size) => sum + size, 0) };
}

async function createCode(page: Page): Promise<string> {
  await open(page, '/codes/new');
  await page.getByLabel('Code', { exact: true }).fill('A00.0');
  await page.getByLabel('Description', { exact: true }).fill('Cholera due to Vibrio cholerae 01, biovar cholerae');
  await page.getByRole('button', { name: 'Create code' }).click();
  await expect(page).toHaveURL(/\/codes\/[0-9a-f-]{36}$/);
  return new URL(page.url()).pathname;
}

test("each page's first load of wasm, as Chromium downloads it, stays under the ceiling", async ({
  page,
  browser,
}) => {
  const ceiling = budgetConstant('FIRST_LOAD_CEILING');
  const target = budgetConstant('FIRST_LOAD_TARGET');
  const signedOut = ['/login', '/signup', '/forgot-password'];
  await signUp(page, newAccount('Bytes'));
  await expect(page).toHaveURL(/\/dashboard$/);
  const code = await createCode(page);
  const signedIn = [
    '/dashboard',
    '/codes',
    '/codes/new',
    '/codes/import',
    '/codes/imports',
    code,
    '/releases',
    '/members',
    '/webhooks',
    '/api-keys',
    '/audit',
    '/audit/verify',
    '/account',
    '/settings',
    '/organizations/new',
  ];
  const session = await page.context().storageState();
  const rows: string[] = [];
  const over: string[] = [];
  for (const [paths, state] of [
    [signedOut, undefined],
    [signedIn, session],
  ] as const) {
    for (const path of paths) {
      const { files, bytes } = await wasmOfFirstLoad(browser, state, path);
      expect(files, `${path} fetched its wasm`).toBeGreaterThan(0);
      rows.push(`${path.padEnd(48)} ${String(files).padStart(4)} files ${String(bytes).padStart(9)} bytes`);
      if (bytes > ceiling) over.push(`${path}: ${bytes}`);
    }
  }
  console.log(`wasm of a first load in Chromium (gzipped, on the wire; target ${target}, ceiling ${ceiling}):\n${rows.join('\n')}`);
  expect(over, `first loads over the ceiling of ${ceiling} bytes`).toEqual([]);
});
