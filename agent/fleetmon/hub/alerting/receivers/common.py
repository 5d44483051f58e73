"""Config readers every receiver kind uses: secrets inline or from a file, and literal texts."""

from pathlib import Path

from fleetmon.config_reader import Node

TEMPLATE_ERROR = ("Go templates are not supported; write the text literally, or leave the key out for "
                  "fleetmon's default rendering")


def secret(node: Node, key: str) -> str:
    """``key`` or ``key_file`` of mapping ``node`` (the file's content without surrounding whitespace, read
    at load time, as Alertmanager trims it); setting both is an error."""
    inline, from_file = node.child(key), node.child(key + "_file")
    if not inline.missing and not from_file.missing:
        from_file.fail(f"set {key} or {key}_file, not both")
    if from_file.missing:
        return inline.string()
    path = from_file.string()
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        from_file.fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        from_file.fail(f"{path} is not UTF-8 text")
    return ""


def secret_source(node: Node, key: str) -> Node:
    """The node a secret was read from, for errors about its value: ``key_file`` when that is set."""
    from_file = node.child(key + "_file")
    return node.child(key) if from_file.missing else from_file


def literal(node: Node) -> str:
    """A text Alertmanager would read as a Go template; we send it as written, so one with ``{{`` would
    reach people as raw template code: an error instead."""
    value = node.string()
    if "{{" in value:
        node.fail(TEMPLATE_ERROR)
        return ""
    return value
