"""The pytest side: the `assistants_emulator` fixture, its marker, inspection, a shared emulator.

The fixture is fresh for every test and stopped afterwards; `@pytest.mark.assistants_emulator`
passes keyword arguments to `Emulator(...)`. `emu.assistants`, `emu.threads`, `emu.messages()`
and `emu.requests` show a test what its code did, as copies. The recipe at the end of this
module shares one emulator across a module (the README quotes it; a test below runs it).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai.types.beta import Assistant

from emulator import Emulator

pytest_plugins = ["pytester"]
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # hypothesis' summary is slow

RESTORED = textwrap.dedent(
    """
    import httpcore, httpx2

    ORIGINALS = (
        httpx2.HTTPTransport.handle_request,
        httpx2.AsyncHTTPTransport.handle_async_request,
        httpcore.ConnectionPool.handle_request,
        httpcore.AsyncConnectionPool.handle_async_request,
    )

    def transports_restored():
        return ORIGINALS == (
            httpx2.HTTPTransport.handle_request,
            httpx2.AsyncHTTPTransport.handle_async_request,
            httpcore.ConnectionPool.handle_request,
            httpcore.AsyncConnectionPool.handle_async_request,
        )
    """
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A throwaway test project; `transports_restored()` says no emulator is intercepting."""
    pytester.makeconftest(RESTORED)
    return pytester


# --- the fixture -----------------------------------------------------------------------------


def test_fixture_is_fresh_for_each_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import openai

        FIRST_IDS = []

        def test_one(assistants_emulator):
            assistant = openai.OpenAI(api_key="k").beta.assistants.create(model="gpt-4o")
            FIRST_IDS.append(assistant.id)
            assert list(assistants_emulator.assistants) == [assistant.id]

        def test_two(assistants_emulator):
            assert assistants_emulator.assistants == {}
            assert assistants_emulator.requests == []
            assistant = openai.OpenAI(api_key="k").beta.assistants.create(model="gpt-4o")
            assert [assistant.id] == FIRST_IDS  # a new emulator, same seed, same ids
        """
    )

    project.runpytest(*QUIET).assert_outcomes(passed=2)


def test_fixture_is_stopped_after_each_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from conftest import transports_restored

        def test_uses_it(assistants_emulator):
            assert not transports_restored()

        def test_runs_after():
            assert transports_restored()

        def test_fails_but_still_stops(assistants_emulator):
            raise RuntimeError("boom")

        def test_runs_after_a_failure():
            assert transports_restored()
        """
    )

    project.runpytest(*QUIET).assert_outcomes(passed=3, failed=1)


def test_marker_on_a_class_or_module(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import openai, pytest

        pytestmark = pytest.mark.assistants_emulator(require_key="sk-module")

        def test_module_marker(assistants_emulator):
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(api_key="sk-other").beta.threads.create()
            openai.OpenAI(api_key="sk-module").beta.threads.create()

        @pytest.mark.assistants_emulator(require_key="sk-class")
        class TestClass:
            def test_class_marker_wins(self, assistants_emulator):
                openai.OpenAI(api_key="sk-class").beta.threads.create()
                assert len(assistants_emulator.threads) == 1
        """
    )

    project.runpytest(*QUIET).assert_outcomes(passed=2)


def test_marker_is_registered(project: pytest.Pytester) -> None:
    result = project.runpytest("--markers", *QUIET)

    result.stdout.fnmatch_lines(["@pytest.mark.assistants_emulator(**kwargs):*"])


@pytest.mark.assistants_emulator(
    seed=7, require_key="sk-right", base_urls=["https://api.aimlapi.com/v1"]
)
def test_marker_keywords_configure_the_emulator(emu: Emulator) -> None:
    base_url = "https://api.aimlapi.com/v1"
    assistant = openai.OpenAI(api_key="sk-right", base_url=base_url).beta.assistants.create(
        model="gpt-4o"
    )
    twin = Emulator(seed=7)  # not started: `handle` answers a request directly
    expected = twin.handle(
        "POST",
        "https://api.openai.com/v1/assistants",
        {"Authorization": "Bearer k"},
        b'{"model": "gpt-4o"}',
    ).json()["id"]

    assert emu.base_urls == (base_url,)
    assert assistant.id == expected
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="sk-wrong", base_url=base_url).beta.threads.create()


# --- inspection ------------------------------------------------------------------------------


def test_requests_show_what_the_code_sent(emu: Emulator, client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(metadata={"user": "42"})
    client.beta.threads.messages.list(thread.id, limit=5, order="asc")

    create, listing = emu.requests
    assert (create.method, create.path, create.query) == ("POST", "/threads", [])
    assert create.url == "https://api.openai.com/v1/threads"
    assert create.json() == {"metadata": {"user": "42"}}
    assert create.headers["authorization"] == "Bearer sk-test"
    assert create.headers["openai-beta"] == "assistants=v2"
    assert create.status == 200
    assert (listing.method, listing.path) == ("GET", f"/threads/{thread.id}/messages")
    assert listing.query == [("limit", "5"), ("order", "asc")]
    assert listing.json() is None


def test_inspection_returns_copies(emu: Emulator, client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", name="original")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "original"}])

    emu.assistants[assistant.id]["name"] = "changed"
    emu.threads[thread.id]["metadata"]["k"] = "changed"
    emu.messages(thread.id)[0]["content"].clear()
    emu.requests[0].headers["authorization"] = "changed"
    emu.requests[0].query.append(("changed", "1"))
    emu.requests.clear()

    assert client.beta.assistants.retrieve(assistant.id).name == "original"
    assert client.beta.threads.retrieve(thread.id).metadata == {}
    [message] = client.beta.threads.messages.list(thread.id).data
    assert message.content[0].text.value == "original"  # type: ignore[union-attr]
    assert emu.requests[0].headers["authorization"] == "Bearer sk-test"
    assert emu.requests[0].query == []
    assert len(emu.requests) == 5


def test_reset_clears_everything(emu: Emulator, client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])

    emu.reset()

    assert (emu.assistants, emu.threads, emu.requests) == ({}, {}, [])
    with pytest.raises(KeyError):
        emu.messages(thread.id)
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(assistant.id)
    assert client.beta.assistants.list().data == []
    assert emu.check_invariants() == []


def test_shared_emulator_recipe_runs(project: pytest.Pytester) -> None:
    source = Path(__file__).read_text()
    recipe = source.rpartition("# --- recipe: start")[2].partition("# --- recipe: end")[0]
    project.makeconftest(
        RESTORED
        + "\nfrom collections.abc import Iterator\nimport openai, pytest\n"
        + "from openai.types.beta import Assistant\nfrom emulator import Emulator\n"
        + recipe
    )
    project.makepyfile(
        test_a_shared="""
            import openai

            def test_first(shared_emulator, shared_assistant, shared_client):
                shared_client.beta.threads.create()
                assert len(shared_emulator.threads) == 1

            def test_second_sees_the_first(shared_emulator, shared_assistant, shared_client):
                assert len(shared_emulator.threads) == 1
                assistant = shared_client.beta.assistants.retrieve(shared_assistant.id)
                assert assistant.name == "Shared"
                assert list(shared_emulator.assistants) == [shared_assistant.id]
        """,
        test_b_after="""
            from conftest import transports_restored

            def test_the_module_emulator_was_stopped():
                assert transports_restored()
        """,
    )

    project.runpytest(*QUIET).assert_outcomes(passed=3)


# --- recipe: start
# One emulator for a whole module: started once, stopped after the module's last test. Objects
# made by module-scoped fixtures (an assistant here) are shared; each test makes its own threads
# or calls `shared_emulator.reset()` for a clean slate. Do not also request the per-test
# `assistants_emulator` in these tests: two started emulators would both intercept.


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    """One emulator for every test in the module."""
    with Emulator(seed="shared") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def shared_assistant(shared_emulator: Emulator) -> Assistant:
    """Created once, used by every test in the module."""
    client = openai.OpenAI(api_key="sk-test")
    return client.beta.assistants.create(model="gpt-4o", name="Shared")


@pytest.fixture
def shared_client(shared_emulator: Emulator) -> Iterator[openai.OpenAI]:
    """A default SDK client; the shared emulator answers it."""
    with openai.OpenAI(api_key="sk-test") as sdk:
        yield sdk


# --- recipe: end
