import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import {
  acceptWithNewAccount,
  expect,
  expectPath,
  focused,
  invitationLink,
  invitationRow,
  invite,
  logIn,
  memberRow,
  newAccount,
  newVisitor,
  open,
  signInAsPlatformAdmin,
  signUp,
  tabTo,
  test,
  uniqueSuffix,
  type NewAccount,
} from './helpers';

/** Who looks at a page: each page is checked as the visitor who uses it. */
type Visitor = 'nobody' | 'owner' | 'platform admin';

/** What some pages need: an owner to sign in as, and an invitation link. */
interface World {
  owner: NewAccount;
  /** A pending invitation for an address without an account. */
  invitationPath: string;
}

interface PageToCheck {
  path: (world: World) => string;
  as: Visitor;
  /** The page's `h1`, so a check never passes on an error page instead. */
  heading: string | RegExp;
  /** The `data-testid` of what the page lists, where it lists something. */
  lists?: string;
}

/**
 * Every page of the app, each checked below in the light and the dark
 * color scheme. A new page goes here and gets every check of this file.
 */
const pages: PageToCheck[] = [
  { path: () => '/signup', as: 'nobody', heading: 'Create your account' },
  { path: () => '/login', as: 'nobody', heading: 'Log in' },
  { path: () => '/forgot-password', as: 'nobody', heading: 'Forgot your password?' },
  { path: () => '/reset-password/any-token', as: 'nobody', heading: 'Choose a new password' },
  { path: (world) => world.invitationPath, as: 'nobody', heading: /^Join / },
  { path: () => '/dev/mail', as: 'nobody', heading: 'Mail outbox' },
  { path: () => '/no-such-page', as: 'nobody', heading: 'Page not found' },
  { path: () => '/dashboard', as: 'owner', heading: /^Analytical Engines / },
  { path: () => '/members', as: 'owner', heading: 'Members', lists: 'invitations' },
  { path: () => '/settings', as: 'owner', heading: 'Organization settings' },
  { path: () => '/account', as: 'owner', heading: 'Your account', lists: 'sessions' },
  { path: () => '/organizations/new', as: 'owner', heading: 'New organization' },
  { path: () => '/codes', as: 'owner', heading: 'Codes' },
  { path: () => '/codes/new', as: 'owner', heading: 'New code' },
  { path: () => '/codes/import', as: 'owner', heading: 'Import codes' },
  { path: () => '/codes/imports', as: 'owner', heading: 'Import history' },
  { path: () => '/releases', as: 'owner', heading: 'Releases' },
  { path: () => '/webhooks', as: 'owner', heading: 'Webhooks' },
  { path: () => '/audit', as: 'owner', heading: 'Audit log', lists: 'audit-entries' },
  { path: () => '/audit/1', as: 'owner', heading: /^Entry 1: / },
  { path: () => '/audit/verify', as: 'owner', heading: 'Verify the audit log' },
  { path: () => '/api-keys', as: 'owner', heading: 'API keys' },
  { path: () => '/platform/organizations', as: 'platform admin', heading: 'Organizations', lists: 'organizations' },
  { path: () => '/platform/security', as: 'platform admin', heading: 'Security events' },
];

/** The narrowest screen every page must fit without scrolling sideways. */
const PHONE = { width: 375, height: 800 };

/** Tab stops checked per page (the dev outbox may list many links). */
const MAX_TAB_STOPS = 40;

/**
 * An owner whose members page has something on it: a colleague who joined
 * (so there is a role to change) and a pending invitation, whose link the
 * invitation page is checked with. Leaves nobody signed in.
 */
async function buildWorld(page: Page): Promise<World> {
  const owner = newAccount('Olive');
  const colleague = { name: `Colin Cole ${uniqueSuffix()}`, email: `colin-${uniqueSuffix()}@example.com` };
  const newcomer = `nora-${uniqueSuffix()}@example.com`;

  await signUp(page, owner);
  await expectPath(page, '/dashboard');
  await invite(page, colleague.email, 'Member');
  await invite(page, newcomer, 'Viewer');
  const colleaguePath = await invitationLink(page, colleague.email);
  const invitationPath = await invitationLink(page, newcomer);

  await page.context().clearCookies();
  await open(page, colleaguePath);
  await acceptWithNewAccount(page, colleague.name, 'another horse battery staple');
  await expectPath(page, '/dashboard');
  await page.waitForLoadState('networkidle');
  await page.context().clearCookies();
  return { owner, invitationPath };
}

/**
 * Opens `path`. After an invitation is accepted the hydrated app reloads
 * /dashboard once more (the current organization changed), and that reload
 * can land in the middle of the next navigation; then navigate again.
 */
async function openSettled(page: Page, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await open(page, path);
      return;
    } catch (error) {
      if (attempt >= 3 || !String(error).includes('interrupted by another navigation')) {
        throw error;
      }
      await page.waitForLoadState('load');
    }
  }
}

async function becomeVisitor(page: Page, visitor: Visitor, world: World): Promise<void> {
  await page.waitForLoadState('networkidle');
  await page.context().clearCookies();
  if (visitor === 'owner') {
    await logIn(page, world.owner.email, world.owner.password);
    await expectPath(page, '/dashboard');
  } else if (visitor === 'platform admin') {
    await signInAsPlatformAdmin(page);
  }
}

/**
 * axe-core's serious and critical findings on the page, one line each.
 *
 * axe needs the page's event loop, which does not run in a browser with
 * JavaScript off (its analysis never finishes there). So without JavaScript
 * axe looks at the same page, with the same cookies and color scheme, in a
 * twin browser context where scripts run but the app's own are blocked: it
 * sees the server's HTML, as the visitor without JavaScript does.
 */
async function seriousAxeViolations(page: Page, colorScheme: 'light' | 'dark'): Promise<string[]> {
  if (test.info().project.use.javaScriptEnabled !== false) {
    return seriousFindings(page);
  }
  const twin = await page
    .context()
    .browser()!
    .newContext({ javaScriptEnabled: true, colorScheme, storageState: await page.context().storageState() });
  try {
    await twin.route(/\/pkg\/.*\.(js|wasm)$/, (route) => route.abort());
    const twinPage = await twin.newPage();
    await twinPage.goto(page.url(), { waitUntil: 'load' });
    return await seriousFindings(twinPage);
  } finally {
    await twin.close();
  }
}

async function seriousFindings(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => {
      const where = v.nodes
        .slice(0, 5)
        .map((node) => node.target.join(' '))
        .join(', ');
      return `${v.impact} ${v.id}: ${v.help} (${where})`;
    });
}

/**
 * Tabs through the page from the top and lists every stop that shows no
 * focus ring. Expects at least one stop (every page has a link).
 */
async function focusStopsWithoutRing(page: Page): Promise<string[]> {
  const seen = new Set<number>();
  const missing: string[] = [];
  for (let i = 0; i < MAX_TAB_STOPS; i++) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    if (now.none || seen.has(now.index)) {
      break;
    }
    seen.add(now.index);
    if (!now.ring) {
      missing.push(now.description);
    }
  }
  expect(seen.size, 'Tab reaches something on the page').toBeGreaterThan(0);
  return missing;
}

/**
 * At a phone's width, whether the page scrolls sideways; if it does, the
 * document width and the elements that stick out, to say what to fix.
 */
async function sidewaysOverflow(page: Page): Promise<string[]> {
  const before = page.viewportSize();
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => {
    const width = window.innerWidth;
    const scrollWidth = document.documentElement.scrollWidth;
    if (scrollWidth <= width) {
      return [];
    }
    const wide = Array.from(document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > width + 0.5)
      .slice(-5)
      .map((el) => `<${el.tagName.toLowerCase()} class="${el.getAttribute('class') ?? ''}"> ends at ${Math.round(el.getBoundingClientRect().right)} px`);
    return [`document is ${scrollWidth} px wide in a ${width} px window`, ...wide];
  });
  if (before) {
    await page.setViewportSize(before);
  }
  return overflow;
}

for (const colorScheme of ['light', 'dark'] as const) {
  test(`every page in the ${colorScheme} scheme: no serious axe violation, a focus ring on every Tab stop, no sideways scrolling at 375 px`, async ({
    page,
  }) => {
    // Three sign-ups (a deliberately slow hash in a debug build) and thirteen
    // pages, each analysed by axe and tabbed through.
    test.setTimeout(240_000);
    await page.emulateMedia({ colorScheme });
    const world = await buildWorld(page);

    let visitor: Visitor = 'nobody';
    for (const check of pages) {
      if (check.as !== visitor) {
        await becomeVisitor(page, check.as, world);
        visitor = check.as;
      }
      const path = check.path(world);
      await test.step(`${path} as ${visitor}`, async () => {
        await openSettled(page, path);
        await expect(page.getByRole('heading', { level: 1, name: check.heading })).toBeVisible();
        if (check.lists) {
          await expect(page.getByTestId(check.lists)).toBeVisible();
        }
        expect
          .soft(await seriousAxeViolations(page, colorScheme), `serious or critical axe violations on ${path} (${colorScheme})`)
          .toEqual([]);
        expect
          .soft(await focusStopsWithoutRing(page), `Tab stops without a visible focus ring on ${path} (${colorScheme})`)
          .toEqual([]);
        expect
          .soft(await sidewaysOverflow(page), `sideways scrolling at ${PHONE.width} px on ${path} (${colorScheme})`)
          .toEqual([]);
      });
    }
  });
}

test('the main actions work with the keyboard alone: log in, invite, change a role', async ({ page, browser }) => {
  test.slow();
  const owner = newAccount('Kira');
  const colleague = { name: `Kai Keys ${uniqueSuffix()}`, email: `kai-${uniqueSuffix()}@example.com` };
  const invitee = `ivy-${uniqueSuffix()}@example.com`;

  // Set-up with the mouse: an owner, and a colleague who joined.
  await signUp(page, owner);
  await expectPath(page, '/dashboard');
  await invite(page, colleague.email, 'Member');
  const link = await invitationLink(page, colleague.email);
  const other = await newVisitor(browser);
  try {
    await open(other.page, link);
    await acceptWithNewAccount(other.page, colleague.name, 'another horse battery staple');
    await expectPath(other.page, '/dashboard');
  } finally {
    await other.context.close();
  }
  await page.context().clearCookies();

  // Log in.
  await open(page, '/login');
  await tabTo(page, page.getByLabel('Email'));
  await page.keyboard.type(owner.email);
  await tabTo(page, page.getByLabel('Password', { exact: true }));
  await page.keyboard.type(owner.password);
  await tabTo(page, page.getByRole('button', { name: 'Log in', exact: true }));
  await page.keyboard.press('Enter');
  await expectPath(page, '/dashboard');
  await expect(page.getByRole('heading', { level: 1, name: owner.organization })).toBeVisible();

  // Invite someone as an Admin.
  await open(page, '/members');
  await tabTo(page, page.getByLabel('Email address'));
  await page.keyboard.type(invitee);
  const role = page.getByLabel('Role', { exact: true });
  await tabTo(page, role);
  await page.keyboard.press('a');
  await expect(role).toHaveValue('admin');
  await tabTo(page, page.getByRole('button', { name: 'Send invitation' }));
  await page.keyboard.press('Enter');
  await expect(invitationRow(page, invitee).getByRole('cell').nth(1)).toHaveText('Admin');

  // Make the colleague a Viewer.
  await open(page, '/members');
  const row = memberRow(page, colleague.email);
  const select = row.getByLabel(`Role of ${colleague.name}`);
  await tabTo(page, select);
  await page.keyboard.press('v');
  await expect(select).toHaveValue('viewer');
  await tabTo(page, row.getByRole('button', { name: 'Change role' }));
  const answered = page.waitForResponse(
    (response) =>
      new URL(response.url()).pathname.endsWith('/members/change_role') && response.request().method() === 'POST',
  );
  await page.keyboard.press('Enter');
  expect((await answered).status(), 'status of the role change').toBeLessThan(400);
  // Without JavaScript the form's answer redirects back to the page; a
  // navigation started before that one lands is interrupted by it. The
  // running app stays on the page and reads it again.
  if (test.info().project.use.javaScriptEnabled === false) {
    await page.waitForURL(/\/members\?$/);
  }
  await open(page, '/members');
  await expect(memberRow(page, colleague.email).getByLabel(`Role of ${colleague.name}`)).toHaveValue('viewer');
});
