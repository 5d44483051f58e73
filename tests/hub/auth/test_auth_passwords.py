"""Password hashes (scrypt, ``scrypt$N$r$p$salt$hash``), API tokens (kept as ``sha256$hex``), and the two
commands that make them, `fleetmon hub hash-password` and `fleetmon hub new-token`, run as a user runs them."""

import base64
import hashlib
import os
import re
import subprocess
import sys

import pytest

from fleetmon.hub.auth.authority import DECOY_HASH
from fleetmon.hub.auth.passwords import (
    HASH_BYTES,
    SALT_BYTES,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    hash_password,
    parse_hash,
    password_hash_problem,
    verify_password,
)
from fleetmon.hub.auth.tokens import is_token_hash, new_token, token_hash
from tests.conftest import AGENT_SRC

SALT = base64.b64encode(b"s" * 16).decode()
DIGEST = base64.b64encode(b"d" * 32).decode()


def scrypt_hash(password: str, n: int, r: int, p: int) -> str:
    """A hash made without the hub's code, as another tool (the Ansible role) makes one."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=2**26)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_a_hash_verifies_its_password_and_no_other():
    encoded = hash_password("correct horse")
    assert verify_password("correct horse", encoded)
    for other in ("correct horse ", "Correct horse", "", "correct hors"):
        assert not verify_password(other, encoded), other
    assert password_hash_problem(encoded) is None


def test_a_new_hash_is_salted_and_made_with_the_parameters_of_the_hub():
    first, second = hash_password("same"), hash_password("same")
    assert first != second  # a salt of its own: equal passwords do not show in the config
    parsed = parse_hash(first)
    assert (parsed.n, parsed.r, parsed.p) == (SCRYPT_N, SCRYPT_R, SCRYPT_P) == (2**14, 8, 1)
    assert (len(parsed.salt), len(parsed.digest)) == (SALT_BYTES, HASH_BYTES)
    assert re.fullmatch(r"scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=", first)


@pytest.mark.parametrize("n, r, p", [(2**15, 8, 1), (2**13, 16, 1), (2**14, 8, 2)])
def test_a_hash_with_other_parameters_still_verifies(n, r, p):
    encoded = scrypt_hash("pw", n, r, p)
    assert password_hash_problem(encoded) is None
    assert verify_password("pw", encoded) and not verify_password("pw2", encoded)


@pytest.mark.parametrize("n, r, p", [(2**10, 8, 1), (2**12, 4, 2), (2**14, 4, 8), (2, 1, 1)])
def test_a_hash_cheaper_than_16_mib_is_refused_and_never_verifies(n, r, p):
    encoded = scrypt_hash("pw", n, r, p)
    assert password_hash_problem(encoded) == "N·r below 16384·8 (16 MiB) is too cheap to guess"
    assert not verify_password("pw", encoded)


def test_the_costliest_parameters_taken_are_256_mib():
    assert password_hash_problem(f"scrypt$262144$8$1${SALT}${DIGEST}") is None  # 128 * 2**18 * 8 bytes
    assert password_hash_problem(f"scrypt$262144$8$2${SALT}${DIGEST}") == "N, r and p ask for more than 256 MiB"


@pytest.mark.parametrize("encoded, problem", [
    ("", "must be scrypt$N$r$p$<salt>$<hash>"),
    ("hunter2", "must be scrypt$N$r$p$<salt>$<hash>"),  # a password pasted where its hash belongs
    ("$2b$12$abcdefghijklmnopqrstuv", "must be scrypt$N$r$p$<salt>$<hash>"),  # bcrypt
    (f"scrypt$16384$8$1${SALT}", "must be scrypt$N$r$p$<salt>$<hash>"),
    (f"scrypt$16384$8$1${SALT}${DIGEST}$", "must be scrypt$N$r$p$<salt>$<hash>"),
    (f"argon2$16384$8$1${SALT}${DIGEST}", "must be scrypt$N$r$p$<salt>$<hash>"),
    (f"scrypt$2^14$8$1${SALT}${DIGEST}", "N, r and p must be integers"),
    (f"scrypt$16384$8$one${SALT}${DIGEST}", "N, r and p must be integers"),
    (f"scrypt$1000$8$1${SALT}${DIGEST}", "N must be a power of two above 1, r and p at least 1"),
    (f"scrypt$1$8$1${SALT}${DIGEST}", "N must be a power of two above 1, r and p at least 1"),
    (f"scrypt$16384$0$1${SALT}${DIGEST}", "N must be a power of two above 1, r and p at least 1"),
    (f"scrypt$16384$8$0${SALT}${DIGEST}", "N must be a power of two above 1, r and p at least 1"),
    (f"scrypt$-16384$8$1${SALT}${DIGEST}", "N must be a power of two above 1, r and p at least 1"),
    # one login must not take the hub's memory: 128 * N * r * p bytes, at most 256 MiB
    (f"scrypt$1048576$8$1${SALT}${DIGEST}", "N, r and p ask for more than 256 MiB"),
    (f"scrypt$16384$8$1000${SALT}${DIGEST}", "N, r and p ask for more than 256 MiB"),
    (f"scrypt$16384$8$1$not*base64${DIGEST}", "salt and hash must be standard base64"),
    (f"scrypt$16384$8$1${SALT}${DIGEST.replace('=', '')}", "salt and hash must be standard base64"),
    (f"scrypt$16384$8$1$${DIGEST}", "the salt must not be empty and the hash must have at least 16 bytes"),
    (f"scrypt$16384$8$1${SALT}${base64.b64encode(b'd' * 8).decode()}",
     "the salt must not be empty and the hash must have at least 16 bytes"),
])
def test_a_malformed_hash_is_refused_with_the_reason_and_verifies_nothing(encoded, problem):
    assert password_hash_problem(encoded) == problem
    assert verify_password("anything", encoded) is False  # refused, never an exception at a login


def test_the_decoy_an_unknown_user_is_checked_against_is_well_formed_and_matches_no_password():
    decoy = parse_hash(DECOY_HASH)
    assert (decoy.n, decoy.r, decoy.p) == (SCRYPT_N, SCRYPT_R, SCRYPT_P)  # it costs what a real check costs
    for password in ("", "password", "\x00" * 16):
        assert not verify_password(password, DECOY_HASH)


def test_an_api_token_is_random_and_only_its_digest_is_kept():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) for token in tokens)  # 32 bytes, URL-safe
    token = tokens.pop()
    kept = token_hash(token)
    assert kept == "sha256$" + hashlib.sha256(token.encode()).hexdigest() and is_token_hash(kept)
    assert token not in kept


@pytest.mark.parametrize("text, is_hash", [
    ("sha256$" + "0" * 64, True),
    ("sha256$" + "a" * 63, False),
    ("sha256$" + "A" * 64, False),  # hexdigest is lower case: another spelling is another tool's
    ("sha512$" + "0" * 64, False),
    ("0" * 64, False),
    (new_token(), False),  # the token itself, pasted where its hash belongs
])
def test_what_a_token_hash_looks_like(text, is_hash):
    assert is_token_hash(text) is is_hash


def fleetmon(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetmon", *args], input=stdin, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)), timeout=60)


def test_hash_password_reads_the_first_line_of_a_pipe_and_prints_a_hash_the_hub_takes():
    done = fleetmon("hub", "hash-password", stdin="s3cret pass\nsecond line\n")
    assert done.returncode == 0, done.stderr
    encoded = done.stdout.strip()
    assert password_hash_problem(encoded) is None
    assert verify_password("s3cret pass", encoded)
    assert "s3cret" not in done.stdout + done.stderr
    empty = fleetmon("hub", "hash-password", stdin="\n")
    assert (empty.returncode, empty.stdout, empty.stderr) == (1, "", "fleetmon: the password is empty\n")


def test_new_token_prints_a_token_and_the_hash_of_exactly_that_token():
    done = fleetmon("hub", "new-token")
    assert done.returncode == 0, done.stderr
    match = re.fullmatch(r"token: (\S+)\nhash: (\S+)\n", done.stdout)
    assert match, done.stdout
    assert token_hash(match[1]) == match[2] and is_token_hash(match[2])
