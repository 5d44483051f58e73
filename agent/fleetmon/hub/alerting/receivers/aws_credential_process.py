"""``credential_process`` of a shared config profile, run as the AWS SDK for Go v2's ``processcreds`` runs
it: through ``sh -c`` with the hub's environment, its stderr left to the hub's, a minute at most (then it
is killed with what it started), its stdout the JSON the AWS documentation gives: ``Version`` 1,
``AccessKeyId``, ``SecretAccessKey``, optional ``SessionToken`` and ``Expiration`` (ISO 8601).

Credentials with an ``Expiration`` are kept until a minute before it (receivers.aws_credentials); without
one the command runs again at each attempt, as Alertmanager, which loads its AWS config for each
notification, runs it each time. Errors do not quote the output: it may hold secrets.
"""

import json
import os
import signal
import subprocess
from collections.abc import Mapping

from fleetmon.hub.alerting.receivers import sigv4
from fleetmon.hub.alerting.receivers.aws_sts import expiry
from fleetmon.hub.alerting.receivers.base import DeliveryError

TIMEOUT = 60.0  # seconds: processcreds' DefaultTimeout


def _run(command: str, env: Mapping[str, str]) -> bytes:
    try:
        child = subprocess.Popen(["sh", "-c", command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 env=dict(env), start_new_session=True)
    except OSError as exc:
        raise DeliveryError(f"credential_process: cannot start sh: {exc}", retryable=True) from exc
    try:
        output, _ = child.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        os.killpg(child.pid, signal.SIGKILL)  # the shell and whatever it started: its own process group
        child.communicate()
        raise DeliveryError(f"credential_process timed out after {TIMEOUT:g} s", retryable=True) from exc
    if child.returncode != 0:
        raise DeliveryError(f"error in credential_process: exit status {child.returncode}", retryable=True)
    return output


def process_credentials(command: str, env: Mapping[str, str]) -> tuple[sigv4.Credentials, float]:
    """The credentials ``command`` prints, and their expiry (unix seconds; 0 when they do not say, so that
    they are not kept)."""
    output = _run(command, env)
    try:
        document = json.loads(output)
    except ValueError as exc:
        raise DeliveryError("credential_process: its output is not JSON", retryable=True) from exc
    if not isinstance(document, dict) or document.get("Version") != 1 or isinstance(document.get("Version"), bool):
        raise DeliveryError("credential_process: wrong version in process output (not 1)", retryable=False)
    for key in ("AccessKeyId", "SecretAccessKey"):
        if not isinstance(document.get(key), str) or not document[key]:
            raise DeliveryError(f"credential_process: missing {key} in process output", retryable=False)
    until = 0.0
    if document.get("Expiration"):
        try:
            until = expiry(document["Expiration"])
        except (ValueError, TypeError, AttributeError) as exc:
            raise DeliveryError("credential_process: Expiration is not an ISO 8601 time", retryable=False) from exc
    token = document.get("SessionToken")
    return sigv4.Credentials(document["AccessKeyId"], document["SecretAccessKey"],
                             token if isinstance(token, str) else ""), until
