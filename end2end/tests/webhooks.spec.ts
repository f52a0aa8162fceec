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

    if (javaScriptEnabled) {
      // The secret, once, ready to copy.
      const dialog = page.getByRole('dialog', { name: 'Signing secret' });
      await expect(dialog).toBeVisible();
      await expect(dialog.getByText('This secret is shown only once.')).toBeVisible();
      await expect(dialog.getByLabel('Signing secret')).toHaveValue(/^whsec_[A-Za-z0-9+/=]{32,}$/);
      await dialog.getByRole('button', { name: 'Copy' }).click();
      await dialog.getByRole('button', { name: 'Done: I have stored it' }).click();
      await expect(dialog).toHaveCount(0);
    }

    const row = page.getByTestId('webhooks').locator(`tr[data-url="${receiver.url}"]`);
    await expect(row).toContainText('code.created');
    await expect(row).toContainText('Enabled');
    await expect(row).toContainText('No recent attempts');
    await row.getByRole('link', { name: receiver.url }).click();

    await expect(page.getByRole('heading', { level: 1, name: receiver.url })).toBeVisible();
    await expect(page.getByText('Billing system')).toBeVisible();
    await expect(page.getByTestId('endpoint-summary')).toContainText('Enabled');

    await page.getByRole('button', { name: 'Send test event' }).click();
    if (javaScriptEnabled) {
      const result = page.getByTestId('test-send');
      await expect(result.getByRole('heading', { name: 'Test event delivered' })).toBeVisible();
      await expect(result.getByTestId('test-response-status')).toHaveText('HTTP 200');
      await expect(result.getByTestId('request-headers')).toContainText('webhook-signature');
      await expect(result.getByTestId('test-request-body')).toContainText('"webhook.test"');
    }
    expect(receiver.received).toHaveLength(1);
    expect(JSON.parse(receiver.received[0].body).type).toBe('webhook.test');
    expect(receiver.received[0].headers['webhook-signature']).toMatch(/^v1,/);

    // The log shows it; its page shows the attempt.
    await open(page, new URL(page.url()).pathname);
    const deliveries = page.getByTestId('deliveries');
    await expect(deliveries.locator('tr[data-status="succeeded"]')).toHaveCount(1);
    await expect(page.getByTestId('endpoint-summary')).toContainText('100% of 1 attempt succeeded');
    await deliveries.getByRole('link', { name: 'webhook.test' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Delivery of webhook.test' })).toBeVisible();
    await expect(page.getByTestId('delivery-summary')).toContainText('Succeeded');
    await expect(page.getByRole('heading', { name: 'Attempt 1: Succeeded' })).toBeVisible();
    await expect(page.getByTestId('delivery-payload')).toContainText('A test event from Codebook.');

    // Replay it: a second attempt, with the same webhook id.
    await page.getByRole('button', { name: 'Replay' }).click();
    await expect(page.getByTestId('delivery-summary')).toContainText(/Pending|Succeeded/);
    await expect.poll(() => receiver.received.length).toBe(2);
    expect(receiver.received[1].headers['webhook-id']).toBe(receiver.received[0].headers['webhook-id']);

    // Filter the log, then disable the endpoint.
    await page.getByRole('link', { name: `← ${receiver.url}` }).click();
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

test('a refused URL is explained next to its field and nothing typed is lost', async ({ page, javaScriptEnabled }) => {
  await signUp(page, newAccount('Edsger'));
  await expect(page).toHaveURL(/\/dashboard$/);
  await open(page, '/webhooks');
  await page.getByLabel('Endpoint URL').fill('https://10.0.0.1/hook');
  await page.getByLabel('Timeout (seconds)').fill('20');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByLabel('Endpoint URL')).toHaveAttribute('aria-invalid', 'true');
  if (javaScriptEnabled) {
    await expect(page.getByLabel('Endpoint URL')).toHaveValue('https://10.0.0.1/hook');
    await expect(page.getByLabel('Timeout (seconds)')).toHaveValue('20');
  }
  await expect(page.getByText('No endpoints yet.')).toBeVisible();
});
