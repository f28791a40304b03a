#!/usr/bin/env python3
"""A roster webhook receiver: python3 receiver.py whsec_... (listens on 127.0.0.1:9000)."""
import base64, hashlib, hmac, http.server, json, sys, time

KEY = base64.b64decode(sys.argv[1].removeprefix("whsec_"))
seen = set()

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        msg_id = self.headers["webhook-id"]
        timestamp = self.headers["webhook-timestamp"]
        expected = base64.b64encode(hmac.new(
            KEY, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
        signatures = [s.split(",", 1)[1] for s in self.headers["webhook-signature"].split()
                      if s.startswith("v1,")]
        if not any(hmac.compare_digest(expected, s) for s in signatures) \
                or abs(time.time() - int(timestamp)) > 300:
            self.send_response(401); self.end_headers(); return
        if msg_id not in seen:  # at least once: a retry may repeat an event
            seen.add(msg_id)
            event = json.loads(body)
            print(event["type"], json.dumps(event["data"]))
        self.send_response(204); self.end_headers()

http.server.HTTPServer(("127.0.0.1", 9000), Receiver).serve_forever()
