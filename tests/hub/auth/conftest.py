"""Stand-in hubs with users (tests/hub/auth/visitor.py), closed after each test, and the throttles' clock."""

import pytest

from tests.hub.auth.visitor import API_TOKEN, Clock, auth_hub


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_hub(tmp_path, clock):
    hubs = []

    def make(auth: dict | None = None, api_token: str = API_TOKEN):
        directory = tmp_path / f"hub-{len(hubs)}"
        directory.mkdir()
        hubs.append(auth_hub(directory, clock, auth, api_token))
        return hubs[-1]

    yield make
    for hub in hubs:
        hub.close()
