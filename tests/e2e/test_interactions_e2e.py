"""`interaction_id` and `previous_interaction_id`: a follow-up is understood through the earlier turn."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from e2e_server import API_KEY, RunningServer
from task_client import OTHER_KEY, TaskClient

CHICAGO = "https://en.wikipedia.org/wiki/University_of_Chicago"
FIRST = "When was the University of Chicago founded?"
FOLLOW_UP = "and who was its first president?"


def _client(server: RunningServer, key: str = API_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=key, max_retries=0)


def _cited(basis: list[dict[str, object]]) -> set[str]:
    return {c["url"] for b in basis for c in b["citations"]}  # type: ignore[attr-defined]


def _searches(chunks: list[Any]) -> list[str]:
    progress = [(c.model_extra or {}).get("deepcite", {}).get("progress", {}) for c in chunks]
    return [p["message"] for p in progress if p.get("stage") == "search"]


def test_a_chat_follow_up_continues_the_earlier_turn(task_server: RunningServer) -> None:
    client = _client(task_server)
    first = client.chat.completions.create(model="lite", messages=[{"role": "user", "content": FIRST}])
    interaction_id = (first.model_extra or {})["interaction_id"]
    assert interaction_id

    alone = list(client.chat.completions.create(
        model="lite", messages=[{"role": "user", "content": FOLLOW_UP}], stream=True
    ))
    assert not any("Chicago" in query for query in _searches(alone)), "alone, the question does not say whose"

    chunks = list(client.chat.completions.create(
        model="lite",
        messages=[{"role": "user", "content": FOLLOW_UP}],
        extra_body={"previous_interaction_id": interaction_id},
        stream=True,
    ))
    assert any("Chicago" in query for query in _searches(chunks)), "the earlier turn says whose"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    basis = (chunks[-1].model_extra or {})["basis"]
    assert "Harper" in content
    assert CHICAGO in _cited(basis)

    # The streamed answer was kept too: the conversation goes on from it.
    next_id = (chunks[-1].model_extra or {})["interaction_id"]
    again = client.chat.completions.create(
        model="speed", messages=[{"role": "user", "content": "and when were its first classes held?"}],
        extra_body={"previous_interaction_id": next_id},
    )
    assert CHICAGO in _cited((again.model_extra or {})["basis"])


def test_a_task_continues_a_chat_and_only_its_owner_may(task_server: RunningServer) -> None:
    first = _client(task_server).chat.completions.create(model="speed", messages=[{"role": "user", "content": FIRST}])
    interaction_id = (first.model_extra or {})["interaction_id"]
    tasks = TaskClient(task_server)
    other = TaskClient(task_server, key=OTHER_KEY)
    try:
        run = tasks.submit(FOLLOW_UP, previous_interaction_id=interaction_id)
        output = tasks.result(run["run_id"]).json()["output"]
        assert "Harper" in output["content"]
        assert CHICAGO in _cited(output["basis"])
        for client in (tasks, other):
            missing = "int_nothing" if client is tasks else interaction_id
            refused = client.http.post(
                "/v1/tasks/runs", json={"processor": "lite", "input": FOLLOW_UP, "previous_interaction_id": missing}
            )
            assert refused.status_code == 400
            assert refused.json()["error"]["param"] == "previous_interaction_id"
        with pytest.raises(openai.BadRequestError):
            _client(task_server, OTHER_KEY).chat.completions.create(
                model="speed", messages=[{"role": "user", "content": FOLLOW_UP}],
                extra_body={"previous_interaction_id": interaction_id},
            )
    finally:
        tasks.close()
        other.close()
