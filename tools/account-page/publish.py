#!/usr/bin/env python3
"""Uploads the account page (web/account/) to a stack deployed with AccountPage=cloudfront,
then invalidates its distribution so the new files are served at once.

    make publish-page STACK=<stack name>
    .venv/bin/python tools/account-page/publish.py --stack <stack name>
    .venv/bin/python tools/account-page/publish.py --bucket B --api-url URL [--distribution-id D]

The page calls the API across origins: its `api-base` meta is set to the stack's ApiUrl,
and a meta Content-Security-Policy narrows the distribution's header (which allows the
region's API hosts) to that one API. boto3 comes with the SAM CLI in .venv and takes the
usual AWS credentials and region (and AWS_ENDPOINT_URL, which the tests point at the
emulator).
"""

import argparse
import html
import re
import sys
import time
import urllib.parse
from pathlib import Path

import boto3

PAGE = Path(__file__).resolve().parents[2] / "web" / "account"
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
# Browsers and CloudFront ask again after five minutes; an upload invalidates at once.
CACHE_CONTROL = "max-age=300"


def stack_outputs(stack):
    """The outputs the page needs, from a deployed stack."""
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if "AccountPageBucketName" not in outputs:
        sys.exit(f"{stack} has no account page: deploy it with AccountPage=cloudfront")
    return outputs["AccountPageBucketName"], outputs["ApiUrl"], outputs.get("AccountPageDistributionId")


def api_origin(api_url):
    """The API's origin: an https URL of a host name, with no path, query or fragment
    (the stack's ApiUrl), so nothing but that host can enter the CSP."""
    parts = urllib.parse.urlsplit(api_url)
    host = parts.hostname or ""
    well_formed = (
        parts.scheme == "https"
        and re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", host)
        and parts.netloc == host
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
    )
    if not well_formed:
        sys.exit(f"--api-url must be the stack's ApiUrl (https://<host>), not {api_url!r}")
    return f"https://{host}"


def rendered_index(api_url):
    """index.html pointed at `api_url`, with a CSP that lets its script reach only it."""
    origin = api_origin(api_url)
    text = (PAGE / "index.html").read_text()
    meta = '<meta name="api-base" content="">'
    if meta not in text:
        sys.exit("web/account/index.html lost its api-base meta")
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {origin}; form-action 'none'; base-uri 'none'"
    )
    return text.replace(
        meta,
        f'<meta name="api-base" content="{html.escape(origin)}">\n'
        f'  <meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">',
    )


def publish(bucket, api_url, distribution_id=None):
    s3 = boto3.client("s3")
    for name, kind in FILES.items():
        body = rendered_index(api_url).encode() if name == "index.html" else (PAGE / name).read_bytes()
        s3.put_object(Bucket=bucket, Key=name, Body=body, ContentType=kind, CacheControl=CACHE_CONTROL)
        print(f"publish-page: s3://{bucket}/{name} ({kind}, {len(body)} bytes)")
    if distribution_id:
        boto3.client("cloudfront").create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": f"publish-page-{time.time_ns()}",
            },
        )
        print(f"publish-page: invalidated {distribution_id}")


def main():
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--stack")
    args.add_argument("--bucket")
    args.add_argument("--api-url")
    args.add_argument("--distribution-id")
    a = args.parse_args()
    if a.stack:
        publish(*stack_outputs(a.stack))
    elif a.bucket and a.api_url:
        publish(a.bucket, a.api_url, a.distribution_id)
    else:
        args.error("give --stack, or --bucket and --api-url")


if __name__ == "__main__":
    main()
