"""`fleetmon hub hash-password` and `fleetmon hub new-token`: the values the ``auth.users`` config takes, made
where the secret is known, so that only hashes ever reach the hub's config."""

import getpass
import sys
from typing import TextIO

from fleetmon.hub.auth.passwords import hash_password
from fleetmon.hub.auth.tokens import new_token, token_hash


def hash_password_command(stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    """The hash of a password read twice from the terminal, or once (its first line) from a pipe."""
    if stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            stderr.write("fleetmon: the two passwords differ\n")
            return 1
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        stderr.write("fleetmon: the password is empty\n")
        return 1
    stdout.write(hash_password(password) + "\n")
    return 0


def new_token_command(stdout: TextIO = sys.stdout) -> int:
    """A new API token for a client to send, and the hash for the user's ``tokens`` in the hub config."""
    token = new_token()
    stdout.write(f"token: {token}\nhash: {token_hash(token)}\n")
    return 0
