"""``any_set`` answers from os.environ's own dict: a variable set or removed after the
check was made (as Lambda sets the trace id per invocation, as tests set switches) is
seen at once, for one name and for several."""

import pytest

from api.observability.environ import any_set


def test_any_set_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMOBACKEND_TEST_FLAG_A", raising=False)
    monkeypatch.delenv("DEMOBACKEND_TEST_FLAG_B", raising=False)
    one, both = (
        any_set("DEMOBACKEND_TEST_FLAG_A"),
        any_set("DEMOBACKEND_TEST_FLAG_A", "DEMOBACKEND_TEST_FLAG_B"),
    )
    assert not one() and not both()
    monkeypatch.setenv("DEMOBACKEND_TEST_FLAG_B", "")  # set, though empty
    assert not one() and both()
    monkeypatch.setenv("DEMOBACKEND_TEST_FLAG_A", "true")
    assert one() and both()
    monkeypatch.delenv("DEMOBACKEND_TEST_FLAG_A")
    monkeypatch.delenv("DEMOBACKEND_TEST_FLAG_B")
    assert not one() and not both()
