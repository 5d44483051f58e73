"""API tokens: 32 random bytes, URL-safe; the config keeps only ``sha256$<hex>`` of each. A token is random,
not chosen by a person, so a plain digest without salt or stretching is enough to keep it secret."""

import hashlib
import re
import secrets

_TOKEN_HASH = re.compile(r"^sha256\$[0-9a-f]{64}$")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def is_token_hash(text: str) -> bool:
    return bool(_TOKEN_HASH.match(text))
