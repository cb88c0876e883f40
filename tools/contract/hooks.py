"""Strategies for the string formats openapi.yaml names beyond JSON Schema's own.

Each format stands for a rule a pattern cannot state: a number libphonenumber calls a valid
mobile for its country, a code in an ISO list, a cursor the service can page from. Without
them Schemathesis would send strings that fit the pattern and break the rule, and count the
400 as "a schema-valid request refused". Negative cases still come from the patterns.
OpenAPI's own `binary` gets a real image, the only kind of file part the service takes.
"""

import base64
import datetime
import os
import re
import secrets
import unicodedata
from pathlib import Path

import schemathesis
from hypothesis import strategies as st

# Valid mobile numbers (libphonenumber's examples and reserved ranges) in countries
# every deployment serves by default.
MOBILES = ["+905321234567", "+447400123456", "+12015550123", "+4915123456789", "+821012345678"]
FIXED_LINES = ["+902123456789", "+441212345678"]

# What the format strategies below draw from: values the service takes.
KNOWN_VALID = {*MOBILES, *FIXED_LINES, *(m[1:] for m in MOBILES)}

schemathesis.openapi.format("e164-mobile", st.sampled_from(MOBILES))
schemathesis.openapi.format("e164", st.sampled_from(MOBILES + FIXED_LINES))
schemathesis.openapi.format("e164-mobile-digits", st.sampled_from([m[1:] for m in MOBILES]))
schemathesis.openapi.format("iso639-1", st.sampled_from(["en", "tr", "de", "fr", "ko", "ar"]))
schemathesis.openapi.format("iso4217", st.sampled_from(["EUR", "USD", "TRY", "KRW", "GBP"]))
schemathesis.openapi.format("iso3166-alpha2", st.sampled_from(["TR", "US", "DE", "GB", "KR"]))
schemathesis.openapi.format(
    "iana-tz", st.sampled_from(["Europe/Istanbul", "UTC", "America/New_York", "Asia/Seoul"])
)


def _cursor(ms: int, request: str, channel: str) -> str:
    sort_key = f"CONSENTLOG#{ms:013d}#{request}#{channel}"
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


# A page may start after any position in the history, existing or not.
schemathesis.openapi.format(
    "consent-history-cursor",
    st.builds(
        _cursor,
        st.integers(min_value=0, max_value=9_999_999_999_999),
        st.from_regex(r"\A[a-z0-9-]{1,36}\Z"),
        st.sampled_from(["email", "sms", "call"]),
    ),
)

# The smallest PNG: one transparent pixel. The only binary parts openapi.yaml has are
# images, and the service decodes every part completely: Schemathesis's own binary values
# (sample files of other kinds, random bytes) would be refused as "not an image".
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
schemathesis.openapi.format("binary", st.just(PNG_1X1))

# The client ids a deployment issues to are its configuration; `make dev` has the default.
schemathesis.openapi.format("client-id", st.just("user-profile-app"))

# A form's `attributes` field: an attributes object written as JSON text.
schemathesis.openapi.format(
    "json-attributes",
    st.sampled_from(['{"tier": "gold"}', '{"visits": 3, "old": null}', '{"vip": true}']),
)


# The passwords the stand-in breach check lists (as `make dev` runs it): a new password
# from that list is refused (400 naming it), a rule no schema can state. A generated one
# that happens to be on it is swapped for one that is not; the rule has its own tests.
ROOT = Path(__file__).resolve().parents[2]
COMMON_PASSWORDS = {
    line.strip()
    for line in (ROOT / "tools/loyalty-standin/data/common-passwords.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
}
NEW_PASSWORD_FIELDS = ("password", "new_password")


@schemathesis.hook
def map_body(ctx, body):
    """`confirm_password` must equal `password` (seed 001): a rule between two fields no
    schema states. Where both are strings, make them equal; other cases are left as
    generated, so a wrongly typed one is still refused."""
    # A trailing-slash twin (`/user/update/profile/`) is its path's operation.
    path = ctx.operation.path.removesuffix("/")
    if isinstance(body, dict):
        for field in NEW_PASSWORD_FIELDS:
            value = body.get(field)
            if isinstance(value, str) and unicodedata.normalize("NFKC", value) in COMMON_PASSWORDS:
                body[field] = value + " is not on the list"
        password, confirm = body.get("password"), body.get("confirm_password")
        if isinstance(password, str) and isinstance(confirm, str):
            body["confirm_password"] = password
        # Seed 002 sends the email with every update, and a new email with a new number
        # is refused (one change at a time): with a number, keep the account's email. An
        # email generated to break the schema stays, so its refusal is still checked.
        if (
            path == "/user/update/profile"
            and isinstance(body.get("phone_number"), str)
            and isinstance(body.get("email"), str)
            and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", body["email"])
        ):
            body["email"] = os.environ.get("CONTRACT_EMAIL", body["email"])
        # A well-formed seed 002 token that nobody emailed is "Token is not matching."
        # (400, as seed 002 answers): the data's state. Such a pair is left out; a
        # malformed one stays in.
        if path == "/user/update/profile":
            token, checksum = body.get("token_field"), body.get("token_checksum_field")
            if (
                isinstance(token, str)
                and re.fullmatch(r"[0-9]{6}", token)
                and isinstance(checksum, str)
                and re.fullmatch(r"[0-9]{6}", checksum)
            ):
                del body["token_field"], body["token_checksum_field"]
        # A sign-up's email is new each time: a taken one is the data's state, not the
        # request's shape.
        if path in (
            "/api/v1/accounts/users",
            "/users/register",
            "/users/register-with-loyalty",
        ):
            email = body.get("email")
            if isinstance(email, str) and email.count("@") == 1:
                local, domain = email.split("@")
                body["email"] = f"{local[:40]}+{secrets.token_hex(4)}@{domain}"
    return body


@schemathesis.hook("map_body")
def distinct_batch_users(ctx, body):
    """A batch names each user once (seed 003 answers 4003 otherwise), a rule across array
    items that `uniqueItems` cannot state for objects: number repeated user ids apart."""
    if isinstance(body, dict):
        for key in ("user_properties", "user_ci_properties"):
            entries = body.get(key)
            if isinstance(entries, list):
                seen = set()
                for i, entry in enumerate(entries):
                    if isinstance(entry, dict) and isinstance(entry.get("user_id"), str):
                        if entry["user_id"] in seen:
                            entry["user_id"] = f"{entry['user_id']}-{i}"[:128]
                        seen.add(entry["user_id"])
    return body

schemathesis.openapi.format(
    "date-of-birth",
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date.today()).map(
        datetime.date.isoformat
    ),
)


@schemathesis.hook
def map_query(ctx, query):
    """The operators' search takes at most one of `email` and `phone`, and pages only
    without them: rules across parameters that OpenAPI cannot state. Both: keep the email;
    a search keeps no `limit` or `cursor`. A cursor is a position a page returned (the
    tests page with real ones); a generated string is none, so it is left out. Malformed
    values are left as generated."""
    if ctx.operation.path != "/api/v1/accounts/users" or ctx.operation.method.upper() != "GET":
        return query
    query = dict(query or {})
    if "email" in query and "phone" in query:
        del query["phone"]
    query.pop("cursor", None)
    if "email" in query or "phone" in query:
        query.pop("limit", None)
    return query


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    """Schemathesis cannot check a format of ours (`e164` and the rest), so its negative
    phase counts any value of one as violating it, and its feedback loop reuses values the
    service returned before: a phone number drawn back from an earlier answer and sent as
    "format-violating" is a valid number, rightly accepted. Nor can a form body carry a
    null or an empty list: such a field is left out on the wire, and the request the
    service gets is valid. Neither case is a finding; every other accepted negative case
    still is."""
    if getattr(failure, "code", None) != "ST201":
        return True
    mutations = getattr(getattr(case.meta.phase, "data", None), "mutations", ()) if case.meta else ()
    if not mutations:
        return True
    form = case.media_type == "application/x-www-form-urlencoded"
    try:
        for m in mutations:
            value = case.body
            for step in m.path:
                value = value[step]
            if form and len(m.path) == 1 and value in (None, [], {}):
                # A form body cannot carry null or an empty list: the field is left out
                # of what is sent, and what reaches the service is valid.
                continue
            if tuple(m.keywords) == ("format",) and isinstance(value, str) and value in KNOWN_VALID:
                continue
            return True
    except (KeyError, IndexError, TypeError):
        return True
    return False
