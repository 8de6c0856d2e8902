"""`batchlab webhooks ...`: create, list, test, deliveries, redeliver, and `listen`: a local receiver that verifies and prints each event.

`listen --port N` serves http://127.0.0.1:N/ and checks every request with the
`standardwebhooks` verifier (signature, and a timestamp within 5 minutes). With
`--secret` it verifies against that secret (an endpoint you made); without, it
makes an endpoint for itself (the embedded mode takes http://127.0.0.1) and
deletes it when it stops.
"""

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit
from jobs.cli.output import print_json, print_table, stdout

FINAL_EVENTS = ["job.completed", "job.failed", "job.canceled"]


def register(sub, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("webhooks", parents=[common], help="webhook endpoints and their deliveries; a local receiver")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    p = verbs.add_parser("create", parents=[common], help="subscribe a URL to events (prints the secret, once)")
    p.add_argument("url")
    p.add_argument("--events", default=",".join(FINAL_EVENTS), help=f"comma-separated (default {','.join(FINAL_EVENTS)})")
    p.add_argument("--description", default="")
    p.set_defaults(func=create)
    verbs.add_parser("list", parents=[common], help="my endpoints (staff: everyone's)").set_defaults(func=list_endpoints)
    p = verbs.add_parser("test", parents=[common], help="send a ping event to an endpoint")
    p.add_argument("webhook_id")
    p.set_defaults(func=test)
    p = verbs.add_parser("deliveries", parents=[common], help="an endpoint's deliveries, newest first, with their attempts")
    p.add_argument("webhook_id")
    p.add_argument("--status", choices=["PENDING", "SENDING", "DELIVERED", "FAILED"], default=None)
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=deliveries)
    p = verbs.add_parser("redeliver", parents=[common], help="send a delivery again (same webhook-id)")
    p.add_argument("webhook_id")
    p.add_argument("delivery_id")
    p.set_defaults(func=redeliver)
    p = verbs.add_parser("listen", parents=[common], help="a local receiver on 127.0.0.1 that verifies and prints each event")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret", default=os.environ.get("BATCHLAB_WEBHOOK_SECRET"),
                   help="verify with this whsec_… (BATCHLAB_WEBHOOK_SECRET); default: make an endpoint for this receiver")
    p.add_argument("--events", default=",".join(FINAL_EVENTS), help="the events of the endpoint it makes")
    p.add_argument("--count", type=int, default=0, help="stop after this many verified events (default: run until Ctrl-C)")
    p.set_defaults(func=listen)


def _events(text: str) -> list[str]:
    return [e.strip() for e in text.split(",") if e.strip()]


def create(args, client: Client) -> int:
    hook = client.post("/webhooks", {"url": args.url, "events": _events(args.events), "description": args.description})
    if args.json:
        print_json(hook)
        return Exit.OK
    out = stdout()
    out.print(f"webhook [bold]{hook['id']}[/] → {hook['url']} for {', '.join(hook['events'])}")
    out.print(f"signing secret (shown once, keep it): [bold]{hook['secret']}[/]", highlight=False)
    return Exit.OK


def list_endpoints(args, client: Client) -> int:
    listing = client.get("/webhooks")
    if args.json:
        print_json(listing)
        return Exit.OK
    rows = [[h["id"], h["url"], ", ".join(h["events"]), "[green]enabled[/]" if h["enabled"] else f"[red]disabled[/] {h['disabled_reason']}",
             h["failing_since"] or "-", h["description"]] for h in listing["results"]]
    print_table("webhooks", ["id", "url", "events", "state", "failing since", "description"], rows)
    return Exit.OK


def _delivery_action(args, client: Client, path: str, said) -> int:
    """POST `path` (an action making or moving a delivery) and show the delivery: as JSON, or in one line said(delivery)."""
    delivery = client.post(path)
    if args.json:
        print_json(delivery)
    else:
        stdout().print(said(delivery))
    return Exit.OK


def test(args, client: Client) -> int:
    return _delivery_action(args, client, f"/webhooks/{args.webhook_id}/test",
                            lambda d: f"ping queued: delivery {d['id']} (batchlab webhooks deliveries {args.webhook_id})")


def _attempts(d: dict) -> str:
    return " ".join(str(a["status_code"]) if a["status_code"] is not None else "×" for a in d["attempt_log"]) or "-"


def deliveries(args, client: Client) -> int:
    params = {"limit": args.limit, **({"status": args.status} if args.status else {})}
    page = client.get(f"/webhooks/{args.webhook_id}/deliveries", **params)
    if args.json:
        print_json(page)
        return Exit.OK
    rows = [[d["id"], d["event_type"], d["job_id"] or "-", d["status"], _attempts(d), d["next_attempt_at"] or "-",
             (d["attempt_log"][-1]["error"] or "") if d["attempt_log"] else ""] for d in page["results"]]
    print_table(f"deliveries of {args.webhook_id}", ["id", "event", "job", "status", "answers", "next try", "last error"], rows)
    return Exit.OK


def redeliver(args, client: Client) -> int:
    return _delivery_action(args, client, f"/webhooks/{args.webhook_id}/deliveries/{args.delivery_id}/redeliver",
                            lambda d: f"delivery {d['id']}: {d['status']} (sent again)")


class _Receiver(BaseHTTPRequestHandler):
    verifier: Webhook
    on_event = staticmethod(lambda event, headers: None)
    on_reject = staticmethod(lambda reason: None)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        headers = {k: v for k, v in self.headers.items()}
        try:
            event = self.verifier.verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            self._answer(400, f"not verified: {exc}")
            self.on_reject(str(exc))
            return
        self._answer(200, "ok")
        self.on_event(event, headers)

    def _answer(self, code: int, text: str) -> None:
        payload = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def listen(args, client: Client) -> int:
    made = None
    secret = args.secret
    if not secret:
        made = client.post("/webhooks", {"url": f"http://127.0.0.1:{args.port}/", "events": _events(args.events),
                                         "description": "batchlab webhooks listen"})
        secret = made["secret"]
    out, seen, done = stdout(), [0], threading.Event()

    def on_event(event, headers):
        seen[0] += 1
        if args.json:
            print(json.dumps({"webhook-id": headers.get("webhook-id"), **event}), flush=True)
        else:
            data = event.get("data") or {}
            out.print(f"{event.get('timestamp')}  [bold]{event.get('type')}[/]  {data.get('id', '')} {data.get('status', '')}"
                      f"  webhook-id {headers.get('webhook-id')}  [green]verified[/]", highlight=False)
        if args.count and seen[0] >= args.count:
            done.set()

    def on_reject(reason):
        print(f"rejected: {reason}", file=sys.stderr, flush=True)

    handler = type("Handler", (_Receiver,), {"verifier": Webhook(secret), "on_event": staticmethod(on_event),
                                             "on_reject": staticmethod(on_reject)})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    where = f"endpoint {made['id']} ({', '.join(made['events'])})" if made else "the secret given"
    print(f"listening on http://127.0.0.1:{args.port}/, verifying with {where}; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
        if made:
            client.request("DELETE", f"/webhooks/{made['id']}")
    return Exit.OK
