# A Comptoir webhook receiver in Python, verifying with the PyPI `standardwebhooks`
# package. Run: WEBHOOK_SECRET=whsec_... python3 receiver.py PORT
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

wh = Webhook(os.environ["WEBHOOK_SECRET"])  # accepts the whsec_ form


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))  # the raw body
        try:
            # Checks the signature and that webhook-timestamp is within 5 minutes.
            wh.verify(body, dict(self.headers), json_parse=False)
        except WebhookVerificationError:
            self.send_response(401)
            self.end_headers()
            return
        text = body.decode("utf-8")
        if self.headers["Content-Type"].startswith("application/json"):
            fields = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
        # eventID de-duplicates: the same event may come more than once.
        print(f"verified {fields['eventID']} {fields['type']} order {fields['orderInternalID']}", flush=True)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
