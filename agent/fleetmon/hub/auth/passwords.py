"""Password hashes: scrypt (hashlib, no extra package), written ``scrypt$N$r$p$<salt>$<hash>`` in standard
base64 — the format the Ansible hub role renders too (roles/fleetmon_hub/filter_plugins).

New hashes use N=2**14, r=8, p=1 (16 MiB, some 50 ms of one core); a hash with other parameters still
verifies, within bounds: none cheaper than that, none that would let one login exhaust the hub's memory.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import NamedTuple

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
#: The costliest parameters a configured hash may ask for: 128 * N * r * p bytes of memory, here 256 MiB.
MAX_MEMORY = 256 * 1024 * 1024


class ScryptHash(NamedTuple):
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, ScryptHash(SCRYPT_N, SCRYPT_R, SCRYPT_P, salt, b""), HASH_BYTES)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` is the one ``encoded`` was made from; False for a malformed hash."""
    parsed = parse_hash(encoded)
    if isinstance(parsed, str):
        return False
    return hmac.compare_digest(_scrypt(password, parsed, len(parsed.digest)), parsed.digest)


def password_hash_problem(encoded: str) -> str | None:
    """Why ``encoded`` is not a usable hash, or None."""
    parsed = parse_hash(encoded)
    return parsed if isinstance(parsed, str) else None


def parse_hash(encoded: str) -> ScryptHash | str:
    """The parts of a hash, or why it is none."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return "must be scrypt$N$r$p$<salt>$<hash>"
    try:
        n, r, p = (int(part) for part in parts[1:4])
    except ValueError:
        return "N, r and p must be integers"
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        return "N must be a power of two above 1, r and p at least 1"
    if n * r < SCRYPT_N * SCRYPT_R:  # memory is what makes scrypt costly to guess on many cores at once
        return f"N·r below {SCRYPT_N}·{SCRYPT_R} (16 MiB) is too cheap to guess"
    if 128 * n * r * p > MAX_MEMORY:
        return f"N, r and p ask for more than {MAX_MEMORY // 2**20} MiB"
    try:
        salt, digest = (base64.b64decode(part, validate=True) for part in parts[4:6])
    except (binascii.Error, ValueError):
        return "salt and hash must be standard base64"
    if not salt or len(digest) < 16:
        return "the salt must not be empty and the hash must have at least 16 bytes"
    return ScryptHash(n, r, p, salt, digest)


def _scrypt(password: str, params: ScryptHash, length: int) -> bytes:
    memory = 128 * params.n * params.r * params.p
    return hashlib.scrypt(password.encode(), salt=params.salt, n=params.n, r=params.r, p=params.p,
                          maxmem=memory + 1024 * 1024, dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
