import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests for Codebook.
 *
 * The server is the already-built debug binary (`make build`), started by
 * scripts/e2e-server.sh with a fresh embedded PostgreSQL cluster. Chromium
 * comes from the system (Debian's /usr/bin/chromium, or $CHROMIUM_PATH); the
 * tests never download a browser.
 *
 * Every spec runs twice: with JavaScript (hydrated app, client-side
 * navigation) and without it (plain HTML forms answered by redirects).
 */
const baseURL = 'http://127.0.0.1:3100';

export default defineConfig({
  testDir: './tests',
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: 'list',
  timeout: 30_000,
  use: {
    baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    {
      name: 'js-on',
      use: { javaScriptEnabled: true },
    },
    {
      name: 'js-off',
      use: { javaScriptEnabled: false },
    },
  ],
  webServer: {
    command: 'bash ../scripts/e2e-server.sh',
    url: `${baseURL}/healthz`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    // Without this Playwright SIGKILLs the process group, so the script could
    // not stop the embedded PostgreSQL cluster and remove its data directory.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 },
  },
});
