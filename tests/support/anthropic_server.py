"""pytest plugin: the local Anthropic-compatible server and real clients for it.

Fixtures:

- ``anthropic_server``: a started :class:`~a2a_session_manager.testing.LocalAnthropicServer`,
  stopped after the test.
- ``anthropic_client`` / ``async_anthropic_client``: real ``anthropic.Anthropic`` /
  ``anthropic.AsyncAnthropic`` clients pointed at it (``api_key="test"``,
  ``max_retries=0``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import pytest

from a2a_session_manager.testing import LocalAnthropicServer


@pytest.fixture
def anthropic_server() -> Iterator[LocalAnthropicServer]:
    with LocalAnthropicServer() as server:
        yield server


@pytest.fixture
def anthropic_client(anthropic_server: LocalAnthropicServer) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=anthropic_server.base_url, api_key="test", max_retries=0)
    yield client
    client.close()


@pytest.fixture
async def async_anthropic_client(
    anthropic_server: LocalAnthropicServer,
) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(
        base_url=anthropic_server.base_url, api_key="test", max_retries=0
    )
    yield client
    await client.close()
