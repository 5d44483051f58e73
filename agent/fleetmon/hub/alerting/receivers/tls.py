"""``tls_config`` of a receiver (Prometheus' common TLS block), read into an ssl context at load time.

Building the context while the config loads makes a missing CA or key file a config error with its key
path, instead of a failed notification at 3 a.m.

As in prometheus/common v0.70, the CA, the client certificate and its key are each given as PEM text
(``ca``, ``cert``, ``key``) or as a file (``ca_file``, ``cert_file``, ``key_file``), not both; a certificate
needs its key and a key its certificate, whichever way each is given. The inline key is handed to OpenSSL
through an anonymous in-memory file (``memfd_create``), so it never touches a disk. The ``*_ref`` keys name
secrets of a secret manager, which Alertmanager does not give its clients: they are refused as there.
"""

import contextlib
import functools
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers.common import refuse_refs

PEM_KEYS = ("ca", "cert", "key")
TLS_KEYS = (*PEM_KEYS, *(f"{name}_file" for name in PEM_KEYS), *(f"{name}_ref" for name in PEM_KEYS),
            "server_name", "insecure_skip_verify", "min_version", "max_version")
_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1, "TLS12": ssl.TLSVersion.TLSv1_2,
             "TLS13": ssl.TLSVersion.TLSv1_3}


@dataclass(slots=True, frozen=True)
class TlsSettings:
    context: ssl.SSLContext
    server_name: str = ""  # the name the certificate must carry, when it differs from the URL's host


def _pem(node: Node, name: str) -> tuple[str, str, Node | None]:
    """``name`` as (inline PEM text, file path, the node that set it); prometheus/common's words when both
    are set."""
    inline, from_file = node.child(name), node.child(f"{name}_file")
    text, path = inline.string(), from_file.string()
    if text and path:
        which = "key and key_file" if name == "key" else f"{name}, {name}_file & {name}_ref"
        from_file.fail(f"at most one of {which} must be configured")
    return text, path, (inline if text else from_file if path else None)


@contextlib.contextmanager
def _as_path(text: str, path: str) -> Iterator[str]:
    """A path OpenSSL can open for PEM given inline (an anonymous in-memory file, gone once closed) or as a file."""
    if not text:
        yield path
        return
    descriptor = os.memfd_create("fleetmon-pem", os.MFD_CLOEXEC)
    try:
        os.write(descriptor, text.encode("utf-8"))
        yield f"/proc/self/fd/{descriptor}"
    finally:
        os.close(descriptor)


def _load_ca(context: ssl.SSLContext, text: str, path: str, source: Node) -> None:
    try:
        if text:
            context.load_verify_locations(cadata=text)
        else:
            context.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        source.fail(f"cannot load {'the CA certificate' if text else path}: {exc}")


def _load_client(context: ssl.SSLContext, cert: tuple[str, str, Node | None], key: tuple[str, str, Node | None],
                 node: Node) -> None:
    (cert_text, cert_file, cert_node), (key_text, key_file, key_node) = cert, key
    if cert_node is None and key_node is None:
        return
    if key_node is None:
        node.fail("exactly one of key or key_file must be configured when a client certificate is configured")
        return
    if cert_node is None:
        node.fail("exactly one of cert or cert_file must be configured when a client key is configured")
        return
    described = f"{'cert' if cert_text else cert_file} with {'key' if key_text else key_file}"
    try:
        with _as_path(cert_text, cert_file) as cert_path, _as_path(key_text, key_file) as key_path:
            context.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        cert_node.fail(f"cannot load {described}: {exc}")


def parse_tls(node: Node) -> TlsSettings:
    """The settings of ``node`` (system CAs and full verification when it is absent)."""
    node = node.mapping(TLS_KEYS)
    refuse_refs(node, *PEM_KEYS)
    ca_text, ca_file, ca_node = _pem(node, "ca")
    cert, key = _pem(node, "cert"), _pem(node, "key")
    insecure = node.child("insecure_skip_verify").boolean(False)
    min_version = node.child("min_version").string("", choices=tuple(_VERSIONS))
    max_version = node.child("max_version").string("", choices=tuple(_VERSIONS))
    if min_version and max_version and _VERSIONS[max_version] < _VERSIONS[min_version]:  # prometheus/common's words
        node.child("max_version").fail("tls_config.max_version must be greater than or equal to "
                                       "tls_config.min_version if both are specified")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and its name
    if ca_node is None:
        context.load_default_certs()
    else:  # the configured CA only, as Go's RootCAs: the system's CAs are not trusted beside it
        _load_ca(context, ca_text, ca_file, ca_node)
    _load_client(context, cert, key, node)
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
