"""The AWS SDK's shared config and credentials files, read as the AWS SDK for Go v2 reads them for
Alertmanager (``config.LoadSharedConfigProfile``): one profile, with the chain of ``source_profile`` it
names, as a ``Profile`` tree receivers.aws_credentials turns into credentials.

The config file is ``AWS_CONFIG_FILE`` or ``~/.aws/config``, its profiles ``[default]`` and ``[profile
NAME]`` (``[profile default]`` wins over ``[default]``; any other section but ``[sso-session NAME]`` is not a
profile); the credentials file is ``AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``, its sections
named as the profiles. Where both have a profile, the credentials file's values win key by key. A file that
cannot be opened counts as empty, as in the SDK; one that cannot be parsed fails the attempt. Comments start
with ``#`` or ``;``, at the start of a line or after a space.

Linking follows the SDK: ``source_profile``, ``credential_source`` and ``web_identity_token_file`` need a
``role_arn``, and a profile has at most one of them and ``credential_process``; a profile that takes its
credentials from a source profile drops its own. A source profile with keys ends the chain there; a profile
met a second time in the chain keeps only its own credentials (its role is not assumed again), so a
profile may name itself as its source, and a loop whose profiles hold no credentials is an error naming it.
Keys the hub does not use (``endpoint_url``, ``services``, ``s3``, retry and FIPS settings) are ignored.
"""

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fleetmon.hub.alerting.receivers import sigv4
from fleetmon.hub.alerting.receivers.base import DeliveryError

CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")
_KEY_PAIR = ("aws_access_key_id", "aws_secret_access_key")
_ROLE_KEYS = ("role_arn", "external_id", "mfa_serial", "role_session_name", "source_profile")
_CREDENTIAL_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "credential_source",
                    "credential_process", "web_identity_token_file", "sso_account_id", "sso_region",
                    "sso_role_name", "sso_start_url")
_NO_DEFAULT_SECTION = "\x00"  # configparser's [DEFAULT] would lend its keys to every section; AWS files have none


@dataclass(frozen=True, slots=True)
class Sso:
    """What GetRoleCredentials needs: the start URL and region of the SSO session (``session``, the
    ``[sso-session]`` name) or, legacy, of the profile itself (``session`` empty)."""

    profile: str
    start_url: str
    region: str
    account_id: str
    role_name: str
    session: str = ""

    @property
    def cache_key(self) -> str:
        """What ``aws sso login`` hashes into the name of its token file."""
        return self.session or self.start_url


@dataclass(slots=True)
class Profile:
    """One profile's settings as the SDK keeps them once linked; ``source`` is the profile of
    ``source_profile``."""

    name: str
    values: dict[str, str] = field(repr=False)
    source: "Profile | None" = None
    sso: Sso | None = None

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    @property
    def keys(self) -> sigv4.Credentials | None:
        if self.get("aws_access_key_id") and self.get("aws_secret_access_key"):
            return sigv4.Credentials(self.get("aws_access_key_id"), self.get("aws_secret_access_key"),
                                     self.get("aws_session_token"))
        return None

    @property
    def duration(self) -> int | None:
        """``duration_seconds`` when the SDK asks for it: over 15 whole minutes (a shorter or unreadable value
        leaves the SDK's 15-minute default)."""
        try:
            seconds = int(self.get("duration_seconds"))
        except ValueError:
            return None
        return seconds if seconds // 60 > 15 else None

    @property
    def kind(self) -> str:
        """Where the credentials come from, in the order the SDK's ``resolveCredsFromProfile`` tries them."""
        if self.source is not None:
            return "source_profile"
        if self.keys is not None:
            return "keys"
        for kind in ("credential_source", "web_identity_token_file"):
            if self.get(kind):
                return kind
        if self.has_sso:
            return "sso"
        return "credential_process" if self.get("credential_process") else "machine"

    @property
    def has_sso(self) -> bool:
        return any(self.get(key) for key in ("sso_session", "sso_region", "sso_account_id", "sso_start_url",
                                             "sso_role_name"))

    def has_credentials(self) -> bool:
        return self.kind != "machine"


@dataclass(frozen=True, slots=True)
class SharedFiles:
    """The profiles of both files, merged, and the ``[sso-session]`` sections of the config file."""

    config: Path
    credentials: Path
    profiles: dict[str, dict[str, str]]
    sessions: dict[str, dict[str, str]]
    partial: frozenset[str]  # profiles whose keys are half there, an error once one is used

    @property
    def where(self) -> str:
        return f"{self.config} or {self.credentials}"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def _sections(path: Path) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False, inline_comment_prefixes=("#", ";"),
                                       default_section=_NO_DEFAULT_SECTION)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    try:
        parser.read_string(text, source=str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise DeliveryError(f"cannot read the AWS shared config {path}: {exc}", retryable=False) from exc
    return {" ".join(name.split()): dict(parser[name]) for name in parser.sections()}


def _half_keys(values: Mapping[str, str]) -> bool:
    return (_KEY_PAIR[0] in values) != (_KEY_PAIR[1] in values)


def read_files(env: Mapping[str, str]) -> SharedFiles:
    """Both files, read now."""
    home = _home(env)
    config = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    credentials = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    profiles: dict[str, dict[str, str]] = {}
    sessions: dict[str, dict[str, str]] = {}
    prefixed: set[str] = set()
    for name, values in _sections(config).items():
        kind, _, rest = name.partition(" ")
        if kind == "profile" and rest:
            profiles[rest] = values
            prefixed.add(rest)
        elif kind == "sso-session" and rest:
            sessions[rest] = values
        elif name.lower() == "default" and name not in prefixed:
            profiles[name] = values
    partial = {name for name, values in profiles.items() if _half_keys(values)}
    for name, values in _sections(credentials).items():
        if name.startswith("profile "):
            continue  # not a profile name in the credentials file
        merged = profiles.setdefault(name, {})
        if all(key in values for key in _KEY_PAIR):
            merged.update({key: values[key] for key in (*_KEY_PAIR, "aws_session_token") if key in values})
        merged.update({key: value for key, value in values.items() if key not in (*_KEY_PAIR, "aws_session_token")})
        partial.discard(name)
        if _half_keys(values):
            partial.add(name)
    return SharedFiles(config, credentials, profiles, sessions, frozenset(partial))


def profile_region(name: str, env: Mapping[str, str]) -> str:
    """``region`` of the profile ``name`` (``AWS_PROFILE`` or ``default`` when empty); empty where no file
    says it or a file cannot be read (the attempt then says why)."""
    try:
        files = read_files(env)
    except DeliveryError:
        return ""
    return files.profiles.get(name or env.get("AWS_PROFILE") or "default", {}).get("region", "")


def _fail(message: str) -> DeliveryError:
    return DeliveryError(message, retryable=False)


def _link(name: str, files: SharedFiles, visited: set[str]) -> Profile | None:
    """The SDK's ``setFromIniSections``: ``name`` and its source profiles; None when no file has ``name``."""
    if name not in files.profiles:
        return None
    if name in files.partial:
        raise _fail(f"profile {name!r} in {files.where}: partial credentials (aws_access_key_id and "
                    f"aws_secret_access_key go together)")
    profile = Profile(name, dict(files.profiles[name]))
    if name in visited:  # met again: only its own credentials count
        for key in _ROLE_KEYS:
            profile.values.pop(key, None)
    else:
        needing = next((key for key in ("source_profile", "credential_source", "web_identity_token_file")
                        if profile.get(key)), "")
        if needing and not profile.get("role_arn"):
            raise _fail(f"profile {name!r}: {needing} requires role_arn")
    if visited and profile.keys is not None:
        return profile
    visited.add(name)
    if sum(bool(profile.get(key)) for key in ("source_profile", "credential_source", "credential_process",
                                              "web_identity_token_file")) > 1:
        raise _fail(f"profile {name!r}: only one credential type may be specified per profile: source_profile, "
                    f"credential_source, credential_process, web_identity_token_file")
    source_name = profile.get("source_profile")
    if source_name:
        for key in _CREDENTIAL_KEYS:
            profile.values.pop(key, None)
        again = source_name in visited
        source = _link(source_name, files, visited)
        if source is None:
            raise _fail(f"profile {name!r}: source_profile {source_name!r} is in neither {files.where}")
        if not source.has_credentials():
            loop = " (a source_profile loop: a profile met again in the chain only lends its own credentials)"
            raise _fail(f"profile {name!r}: source_profile {source_name!r} has no credentials{loop if again else ''}")
        profile.source = source
    session = profile.get("sso_session")
    if session and session not in files.sessions:
        raise _fail(f"profile {name!r}: no [sso-session {session}] section in {files.config}")
    return profile


def _sso(profile: Profile, files: SharedFiles) -> Sso:
    """The SSO settings of ``profile``, checked as the SDK's ``validateSSOConfiguration`` checks them."""
    own = {key: profile.get(f"sso_{key}") for key in ("start_url", "region", "account_id", "role_name")}
    session = profile.get("sso_session")
    if session:
        shared = files.sessions[session]
        for key in ("start_url", "region"):
            if own[key] and own[key] != shared.get(f"sso_{key}", ""):
                raise _fail(f"profile {profile.name!r}: sso_{key} must match sso_{key} in [sso-session {session}]")
            own[key] = shared.get(f"sso_{key}", "")
    missing = [f"sso_{key}" for key, value in own.items() if not value]
    if missing:
        raise _fail(f"profile {profile.name!r} is configured to use SSO but is missing required configuration: "
                    + ", ".join(missing) + (f" (with [sso-session {session}])" if session else ""))
    return Sso(profile.name, own["start_url"], own["region"], own["account_id"], own["role_name"], session)


def _check(profile: Profile, files: SharedFiles) -> None:
    """What the SDK refuses before it asks anything: an unknown credential_source, incomplete SSO settings, a
    role that needs an MFA code."""
    kind = profile.kind
    if kind == "source_profile" and profile.source is not None:
        _check(profile.source, files)
    elif kind == "credential_source" and profile.get("credential_source") not in CREDENTIAL_SOURCES:
        raise _fail(f"profile {profile.name!r}: credential_source values must be EcsContainer, Ec2InstanceMetadata, "
                    f"or Environment")
    elif kind == "sso":
        profile.sso = _sso(profile, files)
    if profile.get("role_arn") and profile.get("mfa_serial") and kind != "web_identity_token_file":
        raise _fail(f"profile {profile.name!r}: role_arn with mfa_serial needs an MFA code typed at a prompt, which "
                    f"the hub cannot ask for (the AWS SDK refuses it without a token provider too); use a profile "
                    f"whose role does not require MFA")


def load_profile(name: str, env: Mapping[str, str]) -> tuple[Profile | None, SharedFiles]:
    """The profile ``name`` linked and checked, with the files it was read from; None where neither file
    has it (the SDK then goes on to the container's or instance's credentials)."""
    files = read_files(env)
    profile = _link(name, files, set())
    if profile is not None:
        _check(profile, files)
    return profile, files
