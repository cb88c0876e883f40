"""Local AWS for development and tests: DynamoDB, SNS, SES and Secrets Manager over
their real wire protocols (moto server), on loopback.

Every SMS that SNS accepted and every email SES accepted is printed as one line, so a
developer can finish an OTP flow by hand. With --exit-with-stdin the emulator stops when its parent closes our
stdin (test harnesses use this so no emulator outlives its test run).
"""

import argparse
import io
import json
import logging
import os
import sys
import threading
import time
from urllib.parse import parse_qs

import moto
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

import transactions


def sms_messages():
    """(message_id, phone, text) for every SMS any account or region published."""
    from moto.sns.models import sns_backends

    for _account, regions in sns_backends.items():
        for _region, backend in regions.items():
            for message_id, (phone, text) in list(backend.sms_messages.items()):
                yield message_id, phone, text


def emails():
    """(message_id, to, subject, body) for every email SES (v1 or v2) accepted."""
    from moto.ses.models import ses_backends

    for _account, regions in ses_backends.items():
        for _region, backend in regions.items():
            for message in list(backend.sent_messages):
                destinations = getattr(message, "destinations", {}) or {}
                to = [a for addresses in destinations.values() for a in addresses]
                yield message.id, to, getattr(message, "subject", ""), getattr(message, "body", "")


class Emulator:
    """moto's WSGI app, plus what tests and developers need around it.

    One request at a time: DynamoDB serializes writes to an item (`SET version =
    version + :one` from fifty clients yields fifty increments), but moto's models are
    plain Python objects updated read-modify-write, so concurrent requests in its
    threaded server can lose updates that real DynamoDB never loses. Serializing
    requests restores DynamoDB's semantics; connections stay concurrent.

    `GET /_emulator/sms` lists every SMS SNS accepted; `GET /_emulator/email` every email
    SES accepted. `POST /_emulator/fail-sms?phone=`
    makes SNS Publish to that number fail with a 500 (`DELETE` heals it), so a test can
    see how the service handles an SMS that never left without disturbing other tests.
    `POST /_emulator/fail-email?to=` makes SES SendEmail to that address fail as SES
    refuses an unverified recipient in its sandbox, the address in the message (`DELETE`
    heals it).
    `POST /_emulator/fail-events?count=N[&type=T][&bus=B]` refuses the next N PutEvents
    entries (of detail-type T, to bus B); `DELETE` heals.
    `POST /_emulator/fail-dynamodb?op=<Operation>&after=N[&table=T]` lets the next N
    DynamoDB calls of that operation (naming table T) through, then fails every one with
    a 500 until `DELETE /_emulator/fail-dynamodb[?table=T]` heals it.
    `POST /_emulator/latency?table=&ms=` delays every request naming that table by `ms`
    (outside the one-at-a-time lock, so concurrent calls overlap as they do in AWS).
    """

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.failing_numbers = set()
        self.failing_addresses = set()
        self.latency_ms = {}
        # (phone, {attribute name: string value}) of every SMS Publish, in order.
        self.sms_attributes = []
        # PutEvents entries to refuse, by bus (None: any bus): how many more, of which
        # detail-type (None: any). Per bus, so tests on their own buses do not meet.
        self.failing_events = {}
        # DynamoDB operations to fail, by (operation, table or None): calls still let through.
        self.failing_dynamodb = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_emulator/sms":
            body = [{"id": i, "phone": p, "message": m} for i, p, m in sms_messages()]
            return respond(start_response, "200 OK", "application/json", json.dumps(body))
        if path == "/_emulator/sms-attributes":
            body = [{"phone": p, "attributes": a} for p, a in self.sms_attributes]
            return respond(start_response, "200 OK", "application/json", json.dumps(body))
        if path == "/_emulator/email":
            body = [{"id": i, "to": t, "subject": s, "body": b} for i, t, s, b in emails()]
            return respond(start_response, "200 OK", "application/json", json.dumps(body))
        if path == "/_emulator/fail-sms":
            phone = parse_qs(environ.get("QUERY_STRING", "")).get("phone", [""])[0]
            (self.failing_numbers.discard if method == "DELETE" else self.failing_numbers.add)(phone)
            return respond(start_response, "204 No Content", "text/plain", "")
        if path == "/_emulator/fail-email":
            to = parse_qs(environ.get("QUERY_STRING", "")).get("to", [""])[0]
            (self.failing_addresses.discard if method == "DELETE" else self.failing_addresses.add)(to)
            return respond(start_response, "204 No Content", "text/plain", "")
        if path == "/_emulator/fail-events":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            bus = query.get("bus", [None])[0]
            if method == "DELETE":
                self.failing_events.pop(bus, None)
            else:
                self.failing_events[bus] = {
                    "count": int(query.get("count", ["1"])[0]),
                    "type": query.get("type", [None])[0],
                }
            return respond(start_response, "204 No Content", "text/plain", "")
        if path == "/_emulator/fail-dynamodb":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            table = query.get("table", [None])[0]
            if method == "DELETE":
                self.failing_dynamodb = {k: v for k, v in self.failing_dynamodb.items() if k[1] != table}
            else:
                op = query.get("op", [""])[0]
                self.failing_dynamodb[(op, table)] = {"after": int(query.get("after", ["0"])[0])}
            return respond(start_response, "204 No Content", "text/plain", "")
        if path == "/_emulator/latency":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            table = query.get("table", [""])[0]
            if method == "DELETE":
                self.latency_ms.pop(table, None)
            else:
                self.latency_ms[table] = int(query.get("ms", ["0"])[0])
            return respond(start_response, "204 No Content", "text/plain", "")
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(raw)
            text = raw.decode("utf-8", "replace")
            delay = max((ms for table, ms in self.latency_ms.items() if f'"{table}"' in text), default=0)
            if delay:
                time.sleep(delay / 1000)
            form = parse_qs(text) if "Action=Publish" in text else {}
            if form.get("PhoneNumber"):
                attributes = {}
                for key, values in form.items():
                    if key.startswith("MessageAttributes.entry.") and key.endswith(".Name"):
                        prefix = key[: -len(".Name")]
                        value = form.get(prefix + ".Value.StringValue", [""])[0]
                        attributes[values[0]] = value
                self.sms_attributes.append((form["PhoneNumber"][0], attributes))
            if path == "/v2/email/outbound-emails" and self.failing_addresses:
                to = json.loads(raw or b"{}").get("Destination", {}).get("ToAddresses", [])
                refused = [a for a in to if a in self.failing_addresses]
                if refused:
                    # SES's own wording: the refused address is in the message.
                    error = json.dumps({"message": (
                        "Email address is not verified. The following identities failed "
                        f"the check in region US-EAST-1: {', '.join(refused)}"
                    )})
                    return respond(start_response, "400 Bad Request", "application/json", error,
                                   [("x-amzn-ErrorType", "MessageRejected")])
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target.startswith("DynamoDB_") and self.failing_dynamodb:
                op = target.split(".", 1)[-1]
                for (failing_op, table), fault in self.failing_dynamodb.items():
                    if failing_op != op or (table is not None and f'"{table}"' not in text):
                        continue
                    if fault["after"] > 0:
                        fault["after"] -= 1
                        break
                    error = json.dumps({
                        "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                        "message": "injected DynamoDB failure",
                    })
                    return respond(start_response, "500 Internal Server Error", "application/x-amz-json-1.0", error)
            if form.get("Action") == ["Publish"] and form.get("PhoneNumber", [""])[0] in self.failing_numbers:
                # SNS's messages can name the number ("Invalid parameter: PhoneNumber
                # Reason: +... is not valid"); so does this one, for the logs to be tested.
                number = form["PhoneNumber"][0]
                error = (
                    "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code>"
                    f"<Message>injected SMS failure publishing to {number}</Message></Error>"
                    "<RequestId>emulator-fault</RequestId></ErrorResponse>"
                )
                return respond(start_response, "500 Internal Server Error", "text/xml", error)
        if (
            method == "POST"
            and any(f["count"] > 0 for f in self.failing_events.values())
            and environ.get("HTTP_X_AMZ_TARGET", "").endswith(".PutEvents")
        ):
            return self.put_events_with_faults(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))

    def put_events_with_faults(self, environ, start_response):
        """PutEvents where the next `count` entries (of `type`, if given) are refused as
        EventBridge refuses them, with an ErrorCode per entry; the rest go to moto."""
        raw = environ["wsgi.input"].read()
        request = json.loads(raw or b"{}")
        entries = request.get("Entries", [])
        refused = []
        for i, entry in enumerate(entries):
            fault = self.failing_events.get(entry.get("EventBusName")) or self.failing_events.get(None)
            if fault and fault["count"] > 0 and fault["type"] in (None, entry.get("DetailType")):
                fault["count"] -= 1
                refused.append(i)
        passed = [e for i, e in enumerate(entries) if i not in refused]
        results = iter([])
        if passed:
            body = json.dumps(dict(request, Entries=passed)).encode()
            inner = dict(environ, CONTENT_LENGTH=str(len(body)))
            inner["wsgi.input"] = io.BytesIO(body)
            captured = {}
            def capture(status, headers, exc_info=None):
                captured["status"] = status
            with self.lock:
                answer = b"".join(self.app(inner, capture))
            results = iter(json.loads(answer or b"{}").get("Entries", []))
        out = []
        for i in range(len(entries)):
            if i in refused:
                out.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected PutEvents failure"})
            else:
                out.append(next(results, {}))
        body = json.dumps({"FailedEntryCount": len(refused), "Entries": out})
        return respond(start_response, "200 OK", "application/x-amz-json-1.1", body)


def respond(start_response, status, content_type, body, extra_headers=()):
    data = body.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data))), *extra_headers])
    return [data]


def watch_stdin():
    for _ in sys.stdin:
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--exit-with-stdin", action="store_true")
    parser.add_argument("--quiet-sms", action="store_true")
    args = parser.parse_args()

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the emulator listens on loopback only")

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    transactions.install()
    app = Emulator(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"emulator: moto {moto.__version__} on http://{args.host}:{args.port}", flush=True)

    if args.exit_with_stdin:
        threading.Thread(target=watch_stdin, daemon=True).start()

    seen = set()
    try:
        while True:
            time.sleep(0.2)
            if args.quiet_sms:
                continue
            for message_id, phone, text in sms_messages():
                if message_id not in seen:
                    seen.add(message_id)
                    print(f"SMS to {phone} : {text}", flush=True)
            for message_id, to, subject, body in emails():
                if message_id not in seen:
                    seen.add(message_id)
                    print(f"Email to {', '.join(to)} : {subject} | {body}", flush=True)
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
