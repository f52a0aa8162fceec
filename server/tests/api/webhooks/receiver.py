"""A webhook receiver that verifies each request with the Standard Webhooks
reference library (PyPI `standardwebhooks`), as a customer's would.

Usage: receiver.py SECRETS_FILE
Prints {"port": N} once listening on 127.0.0.1, then one JSON line per
request: its type and, for each secret in SECRETS_FILE (one per line,
re-read on every request), whether the request verifies with it.
Answers 204 when any secret verifies, 400 otherwise.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRETS_FILE = sys.argv[1]


def verifies(secret, body, headers):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        with open(SECRETS_FILE) as f:
            secrets = [line.strip() for line in f if line.strip()]
        verdicts = [verifies(secret, body, headers) for secret in secrets]
        try:
            event_type = json.loads(body).get("type")
        except ValueError:
            event_type = None
        print(json.dumps({"type": event_type, "verified": verdicts,
                          "id": headers.get("webhook-id")}), flush=True)
        self.send_response(204 if any(verdicts) else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
