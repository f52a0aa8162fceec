import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, newAccount, open, signUp, test } from './helpers';

// Signs up (a deliberately slow password hash in a debug build) and drives
// several pages: give it three times the default.
test.slow();

/** A webhook receiver on loopback that answers 200 and keeps what it got. */
async function startReceiver(): Promise<{ url: string; received: { headers: http.IncomingHttpHeaders; body: string }[]; close: () => void }> {
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, close: () => server.close() };
}

test('an owner adds an endpoint, sends a test event, reads its delivery and disables the endpoint', async ({ page, javaScriptEnabled }) => {
  const receiver = await startReceiver();
  try {
    await signUp(page, newAccount('Grace'));
    await expect(page).toHaveURL(/\/dashboard$/);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Webhooks' })).toBeVisible();
    await expect(page.getByText('No endpoints yet.')).toBeVisible();

    await page.getByLabel('Endpoint URL').fill(receiver.url);
    await page.getByLabel('Description').fill('Billing system');
    await page.getByLabel('code.created').check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();

    // The secret, once, ready to copy.
    const dialog = page.getByRole('dialog', { name: 'Signing secret' });
    await expect(dialog).toBeVisible();
    await expect(dialog.getByText('This secret is shown only once.')).toBeVisible();
    await expect(dialog.getByLabel('Signing secret')).toHaveValue(/^whsec_[A-Za-z0-9+/=]{32,}$/);
    if (javaScriptEnabled) {
      await dialog.getByRole('button', { name: 'Copy' }).click();
      await expect(dialog.getByRole('status')).toContainText(/Copied|selected/);
    }
    await dialog.getByRole('button', { name: 'Done: I have stored it' }).click();
    await expect(dialog).toHaveCount(0);

    const row = page.getByTestId('webhooks').locator(`tr[data-url="${receiver.url}"]`);
    await expect(row).toContainText('code.created');
    await expect(row).toContainText('Enabled');
    await expect(row).toContainText('No recent attempts');
    await row.getByRole('link', { name: receiver.url }).click();

    await expect(page.getByRole('heading', { level: 1, name: receiver.url })).toBeVisible();
    await expect(page.getByText('Billing system')).toBeVisible();
    await expect(page.getByTestId('endpoint-summary')).toContainText('Enabled');

    // The test send leads to its delivery: what was sent and the answer.
    const endpointPath = new URL(page.url()).pathname;
    await page.getByRole('button', { name: 'Send test event' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Delivery of webhook.test' })).toBeVisible();
    await expect(page.getByRole('status')).toHaveText(/^Test event delivered: HTTP 200 in \d+ ms\.$/);
    await expect(page.getByTestId('delivery-summary')).toContainText('Succeeded');
    const attempt = page.getByTestId('attempt');
    await expect(attempt.getByRole('heading', { name: 'Attempt 1: Succeeded' })).toBeVisible();
    await expect(attempt).toContainText('HTTP 200');
    await expect(attempt.getByTestId('request-headers')).toContainText('webhook-signature');
    await expect(page.getByTestId('delivery-payload')).toContainText('A test event from Codebook.');
    expect(receiver.received).toHaveLength(1);
    expect(JSON.parse(receiver.received[0].body).type).toBe('webhook.test');
    expect(receiver.received[0].headers['webhook-signature']).toMatch(/^v1,/);

    // The endpoint's log shows it.
    await open(page, endpointPath);
    const deliveries = page.getByTestId('deliveries');
    await expect(deliveries.locator('tr[data-status="succeeded"]')).toHaveCount(1);
    await expect(page.getByTestId('endpoint-summary')).toContainText('100% of 1 attempt succeeded');
    await deliveries.getByRole('link', { name: 'webhook.test' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Delivery of webhook.test' })).toBeVisible();
    await expect(page.getByRole('status')).toHaveCount(0);

    // Replay it: a second attempt, with the same webhook id.
    await page.getByRole('button', { name: 'Replay' }).click();
    await expect(page.getByTestId('delivery-summary')).toContainText(/Pending|Succeeded/);
    await expect.poll(() => receiver.received.length).toBe(2);
    expect(receiver.received[1].headers['webhook-id']).toBe(receiver.received[0].headers['webhook-id']);

    // A replay range that ends before it starts is refused under its field.
    await page.getByRole('link', { name: `← ${receiver.url}` }).click();
    const replay = page.getByRole('region', { name: 'Replay failed deliveries' });
    await replay.getByLabel('From (UTC)').fill('2026-11-23T14:30');
    await replay.getByLabel('Until (UTC)').fill('2026-11-22T14:30');
    await replay.getByRole('button', { name: 'Replay failed deliveries' }).click();
    await expect(replay.getByRole('alert')).toHaveText('The end must come after the start.');
    await expect(replay.getByLabel('Until (UTC)')).toHaveAttribute('aria-invalid', 'true');

    // Filter the log, then disable the endpoint.
    await page.getByLabel('Status').selectOption({ label: 'Failed' });
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(page).toHaveURL(/status=dead/);
    await expect(page.getByText('No deliveries.')).toBeVisible();

    await page.getByRole('button', { name: 'Disable endpoint' }).click();
    await expect(page.getByTestId('endpoint-summary')).toContainText('Disabled');
    await page.getByRole('button', { name: 'Enable endpoint' }).click();
    await expect(page.getByTestId('endpoint-summary')).toContainText('Enabled');
  } finally {
    receiver.close();
  }
});

test('a refused URL is explained next to its field and nothing typed is lost', async ({ page }) => {
  await signUp(page, newAccount('Edsger'));
  await expect(page).toHaveURL(/\/dashboard$/);
  await open(page, '/webhooks');
  await page.getByLabel('Endpoint URL').fill('https://10.0.0.1/hook');
  await page.getByLabel('Timeout (seconds)').fill('20');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByLabel('Endpoint URL')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Endpoint URL')).toHaveValue('https://10.0.0.1/hook');
  await expect(page.getByLabel('Timeout (seconds)')).toHaveValue('20');
  await expect(page.getByText('No endpoints yet.')).toBeVisible();

  // Typed values come back once: the page opened afresh has the defaults.
  await open(page, '/webhooks');
  await expect(page.getByLabel('Endpoint URL')).toHaveValue('');
  await expect(page.getByLabel('Timeout (seconds)')).not.toHaveValue('20');
});
