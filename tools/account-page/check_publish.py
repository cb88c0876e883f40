#!/usr/bin/env python3
"""`make browser-test`'s check of `make publish-page`: the page uploaded to a bucket of the
emulator's S3 (AWS_ENDPOINT_URL) as publish.py uploads it to a stack's, then read back.
Each file has its type and cache lifetime, index.html names the API it calls and a CSP
that lets it reach that API alone, and a URL that is no URL is refused.
"""

import subprocess
import sys
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
API = "https://abc123.execute-api.eu-west-1.amazonaws.com"


def main():
    s3 = boto3.client("s3")
    bucket = "account-page-publish-check"
    s3.create_bucket(Bucket=bucket)
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, str(HERE / "publish.py"), *args], capture_output=True, text=True
    )
    done = run("--bucket", bucket, "--api-url", API + "/")
    assert done.returncode == 0, done.stderr
    kinds = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
    for key, kind in kinds.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ContentType"].startswith(kind), (key, got["ContentType"])
        assert got["CacheControl"] == "max-age=300", (key, got["CacheControl"])
    index = s3.get_object(Bucket=bucket, Key="index.html")["Body"].read().decode()
    assert f'<meta name="api-base" content="{API}">' in index, index[:600]
    assert f"connect-src {API};" in index, index[:800]
    assert "frame-ancestors" not in index, "a meta CSP cannot carry frame-ancestors: the header does"
    app = s3.get_object(Bucket=bucket, Key="app.js")["Body"].read().decode()
    assert "fetch(API_BASE + path" in app
    for bad in ["javascript:alert(1)", "http://abc.example.com", "https://a *", "https://a.example.com/x?y", "https://a.example.com;b"]:
        refused = run("--bucket", bucket, "--api-url", bad)
        assert refused.returncode != 0 and "--api-url" in refused.stderr, (bad, refused)
    print("publish-page: the files, their types and the page's API and CSP are as deployed")


if __name__ == "__main__":
    main()
