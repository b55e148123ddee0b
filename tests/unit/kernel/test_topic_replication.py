"""Topic creation on a real cluster: the replication factor comes from CF_TOPIC_REPLICATION
and three replicas bring `min.insync.replicas` 2 with them."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from schemas.registry import RAW, TOPICS
from services.kernel.kafka import new_topic
from services.kernel.settings import Settings


def _settings(monkeypatch: pytest.MonkeyPatch, replication: str | None) -> Settings:
    if replication is None:
        monkeypatch.delenv("CF_TOPIC_REPLICATION", raising=False)
    else:
        monkeypatch.setenv("CF_TOPIC_REPLICATION", replication)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_one_replica_by_default_and_no_min_isr(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _settings(monkeypatch, None)
    assert s.topic_replication == 1
    for spec in TOPICS.values():
        topic = new_topic(s, spec)
        assert topic.replication_factor == 1
        assert "min.insync.replicas" not in topic.topic_configs


def test_three_replicas_require_two_in_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _settings(monkeypatch, "3")
    for spec in TOPICS.values():
        topic = new_topic(s, spec)
        assert topic.replication_factor == 3
        assert topic.topic_configs["min.insync.replicas"] == "2"
        assert topic.num_partitions == spec.partitions
        # the spec's own configuration is kept
        for key, value in spec.topic_config().items():
            assert topic.topic_configs[key] == value


def test_two_replicas_keep_the_broker_default_min_isr(monkeypatch: pytest.MonkeyPatch) -> None:
    topic = new_topic(_settings(monkeypatch, "2"), RAW)
    assert topic.replication_factor == 2
    assert "min.insync.replicas" not in topic.topic_configs


def test_prefix_and_a_higher_spec_factor_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CF_TOPIC_PREFIX", "t1.")
    spec = dataclasses.replace(RAW, replication=5, config={"min.insync.replicas": "3"})
    topic = new_topic(_settings(monkeypatch, "3"), spec)
    assert topic.name == "t1." + RAW.name
    assert topic.replication_factor == 5
    assert topic.topic_configs["min.insync.replicas"] == "3"


def test_zero_replicas_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        _settings(monkeypatch, "0")
