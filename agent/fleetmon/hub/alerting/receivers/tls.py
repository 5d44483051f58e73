"""``tls_config`` of a receiver (Prometheus' common TLS block), read into an ssl context at load time.

Building the context while the config loads makes a missing CA or key file a config error with its key
path, instead of a failed notification at 3 a.m.
"""

import functools
import ssl
from dataclasses import dataclass

from fleetmon.config_reader import Node

TLS_KEYS = ("ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify", "min_version", "max_version")
_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1, "TLS12": ssl.TLSVersion.TLSv1_2,
             "TLS13": ssl.TLSVersion.TLSv1_3}


@dataclass(slots=True, frozen=True)
class TlsSettings:
    context: ssl.SSLContext
    server_name: str = ""  # the name the certificate must carry, when it differs from the URL's host


def parse_tls(node: Node, keys: tuple[str, ...] = TLS_KEYS) -> TlsSettings:
    """The settings of ``node`` (system CAs and full verification when it is absent)."""
    node = node.mapping(keys)
    ca_file = node.child("ca_file").string()
    cert_file = node.child("cert_file").string()
    key_file = node.child("key_file").string()
    insecure = node.child("insecure_skip_verify").boolean(False)
    min_version = node.child("min_version").string("", choices=tuple(_VERSIONS))
    max_version = node.child("max_version").string("", choices=tuple(_VERSIONS))
    if min_version and max_version and _VERSIONS[max_version] < _VERSIONS[min_version]:  # prometheus/common's words
        node.child("max_version").fail("tls_config.max_version must be greater than or equal to "
                                       "tls_config.min_version if both are specified")
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            node.child("ca_file").fail(f"cannot load {ca_file}: {exc}")
    if cert_file or key_file:
        if not (cert_file and key_file):
            node.fail("cert_file and key_file go together")
        else:
            try:
                context.load_cert_chain(cert_file, key_file)
            except (OSError, ssl.SSLError) as exc:
                node.child("cert_file").fail(f"cannot load {cert_file} with {key_file}: {exc}")
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if min_version:
        context.minimum_version = _VERSIONS[min_version]
    if max_version:
        context.maximum_version = _VERSIONS[max_version]
    return TlsSettings(context, node.child("server_name").string())


@functools.cache
def system_tls() -> TlsSettings:
    """The settings of every receiver without tls_config, made once: loading the system CAs costs."""
    return TlsSettings(ssl.create_default_context())
