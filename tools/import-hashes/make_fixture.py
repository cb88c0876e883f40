"""Writes tests/fixtures/imported_hashes.json: one password hashed by each hasher an
import takes, made by the libraries that make them in the systems users come from:
Django's make_password for each of its hashers, Python's bcrypt ($2a$, $2b$, and $2y$ as
PHP writes it) and argon2-cffi (argon2id, argon2i). The tests verify each with the
service's own code, then log in with it and see it replaced by our Argon2id.

    make hash-fixture    # a venv of its own (requirements.txt), then this script
"""

import json
import sys
from pathlib import Path

import argon2
import bcrypt
import django
from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ]
)
django.setup()
from django.contrib.auth.hashers import check_password, make_password  # noqa: E402

# Not ASCII, and not NFKC-normal: the bytes as typed are what each system hashed.
PASSWORD = "Cafe\u0301 lètmein 42"


def django_hash(hasher: str) -> str:
    encoded = make_password(PASSWORD, hasher=hasher)
    assert check_password(PASSWORD, encoded)
    return encoded


def main() -> None:
    raw = PASSWORD.encode()
    bcrypt_2b = bcrypt.hashpw(raw, bcrypt.gensalt(rounds=10, prefix=b"2b")).decode()
    cases = {
        "django pbkdf2_sha256": django_hash("pbkdf2_sha256"),
        "django pbkdf2_sha1": django_hash("pbkdf2_sha1"),
        "django argon2": django_hash("argon2"),
        "django bcrypt_sha256": django_hash("bcrypt_sha256"),
        "django bcrypt": django_hash("bcrypt"),
        "bcrypt $2a$": bcrypt.hashpw(raw, bcrypt.gensalt(rounds=10, prefix=b"2a")).decode(),
        "bcrypt $2b$": bcrypt_2b,
        # PHP's password_hash writes $2y$: the same algorithm under another name.
        "bcrypt $2y$": "$2y$" + bcrypt_2b[4:],
        "argon2-cffi argon2id": argon2.PasswordHasher().hash(PASSWORD),
        "argon2-cffi argon2i": argon2.PasswordHasher(type=argon2.Type.I).hash(PASSWORD),
    }
    versions = {
        "django": django.get_version(),
        "bcrypt": bcrypt.__version__,
        "argon2-cffi": __import__("importlib.metadata").metadata.version("argon2-cffi"),
    }
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"password": PASSWORD, "made_by": versions, "hashes": cases}
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"{out}: {len(cases)} hashes")


if __name__ == "__main__":
    main()
