"""The routing classifier on the real database: trained from a labelled export, picked up by
a running routing worker without a restart, retrained on agents' corrections (on demand and on
a schedule), and measured."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from schemas.common import Language
from schemas.lifecycle import LifecycleKind
from services.commands import classifier
from services.kernel.clock import FrozenClock
from services.kernel.db import migrate
from services.kernel.handler import Record
from services.routing import model_store
from services.routing.app import Routing
from services.routing.settings import RoutingSettings
from tests.conftest import wait_for
from tests.integration.test_routing_held import change
from tests.integration.test_routing_load import AT
from tests.integration.test_routing_load import registered as registered_as

pytestmark = pytest.mark.integration

TAXONOMY = """
version: 1
defaults: {department: 客服部, queue: general, priority: P3}
triage: {department: 客服部, queue: triage, priority: P3}
classifier: {model_threshold: 0.4}
categories:
  费用问题:
    display: {zh-Hans: 费用问题, en: Charges}
    route: {department: 财务部, queue: 账务, priority: P3}
  网络质量:
    display: {zh-Hans: 网络质量, en: Network}
    route: {department: 网络部, queue: 网络, priority: P2}
  服务态度:
    display: {zh-Hans: 服务态度, en: Conduct}
    route: {department: 客服部, queue: 投诉, priority: P3}
"""
MAPPING = "columns:\n  description: 描述\n  category: 类别\n"
ROWS = {
    "费用问题": [
        "话费多扣了{n}元",
        "套餐月费收了{n}元",
        "套餐费比说好的贵{n}块",
        "账单多了{n}元的费用",
    ],
    "网络质量": ["宽带断网{n}天了", "信号很差掉线{n}次", "网速慢了{n}天", "上不了网{n}小时"],
    "服务态度": [
        "客服挂了我{n}次电话",
        "营业员态度恶劣{n}次",
        "工作人员骂人{n}次",
        "客服推脱{n}次",
    ],
}


def write_export(path: Path, per_phrase: int = 6, extra: list[tuple[str, str]] = ()) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["工单号", "描述", "类别"])
        n = 0
        for category, phrases in ROWS.items():
            for phrase in phrases:
                for i in range(per_phrase):
                    n += 1
                    w.writerow([f"T{n}", phrase.format(n=i + 2), category])
        for text, category in extra:
            n += 1
            w.writerow([f"T{n}", text, category])
    return path


@pytest.fixture
def setup(cf, tmp_path) -> tuple[RoutingSettings, Path, Path]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(TAXONOMY, encoding="utf-8")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    s = RoutingSettings.of(cf).model_copy(
        update={
            "routing_rules_path": rules,
            "routing_model_check_seconds": 1e-6,  # every tick looks
            "routing_retrain_hours": 0.0,
        }
    )
    return s, mapping, write_export(tmp_path / "export.csv")


def registered(n: int, text: str) -> Record:
    """A Chinese complaint that names no category."""
    return registered_as(n, description=text, category=None, language=Language.ZH_HANS)


def recategorised(n: int, category: str) -> Record:
    """An agent's correction of complaint c1's category."""
    assert n == 1, "the correction is of complaint c1"
    return change(100, LifecycleKind.RECATEGORISED, category=category)


def start(s: RoutingSettings, conn: psycopg.Connection) -> Routing:
    routing = Routing(s, CollectorRegistry(), FrozenClock(AT))
    migrate(conn, routing.schema, routing.migrations)
    routing.start(conn)
    return routing


def route(routing: Routing, record: Record, conn: psycopg.Connection):
    (out,) = routing.handle(record, conn)
    return out.value


def test_a_trained_model_routes_and_a_new_version_is_used_without_a_restart(setup, tmp_path):
    s, mapping, export = setup
    with psycopg.connect(s.db_url(), autocommit=True) as conn:
        # Given a routing worker on the call center's own taxonomy, before any training
        routing = start(s, conn)
        assert routing.router.classifier.trained is None  # the shipped model knows other names
        # When a labelled export (Chinese column names) is trained
        said = classifier.train(s, export, mapping, progress=False)
        assert said.startswith("model v1: 72 rows in 3 categories + 0 agents' corrections")
        # Then the running worker uses it at its next tick, with no restart
        list(routing.tick(conn))
        d = route(routing, registered(1, "这个月话费多扣了50元"), conn)
        assert (d.category, d.department, d.queue) == ("费用问题", "财务部", "账务")
        assert d.classified_by == "model" and d.model_version == "v1"
        assert d.category_display == {"zh-Hans": "费用问题", "en": "Charges"}  # for people
        assert any(
            "model v1 says '费用问题'" in why and "weighed most:" in why for why in d.reasons
        )
        # And a newer version is picked up the same way
        classifier.train(
            s, write_export(tmp_path / "more.csv", per_phrase=8), mapping, progress=False
        )
        list(routing.tick(conn))
        d = route(routing, registered(2, "宽带又断网了"), conn)
        assert (d.category, d.model_version) == ("网络质量", "v2")
        assert [m.version for m in model_store.models(conn)] == [2, 1]


def test_an_agents_correction_changes_the_next_decision_on_similar_text_after_retraining(setup):
    s, mapping, export = setup
    with psycopg.connect(s.db_url(), autocommit=True) as conn:
        classifier.train(s, export, mapping, progress=False)
        routing = start(s, conn)
        # Given the model takes a new kind of problem for a billing one
        first = route(routing, registered(1, "套餐里的提速包一直没生效"), conn)
        assert first.category == "费用问题"
        # When an agent corrects it to a network problem
        fixed = route(routing, recategorised(1, "网络质量"), conn)
        assert (fixed.category, fixed.classified_by) == ("网络质量", "agent")
        # Then the correction is kept as a label
        (kept,) = [e for e in model_store.examples(conn) if e.origin == model_store.CORRECTION]
        assert (kept.text, kept.category) == ("套餐里的提速包一直没生效", "网络质量")
        # And after retraining on demand, similar text goes to the corrected category
        assert classifier.retrain(s) == "model v2: 72 rows + 1 agents' corrections."
        list(routing.tick(conn))
        d = route(routing, registered(2, "我买的提速包没有生效"), conn)
        assert (d.category, d.model_version) == ("网络质量", "v2")


def test_corrections_are_retrained_on_a_schedule_beside_the_loop(setup):
    s, mapping, export = setup
    s = s.model_copy(update={"routing_retrain_hours": 1e-9})  # due at once once corrected
    with psycopg.connect(s.db_url(), autocommit=True) as conn:
        classifier.train(s, export, mapping, progress=False)
        routing = start(s, conn)
        route(routing, registered(1, "套餐里的提速包一直没生效"), conn)
        list(routing.tick(conn))
        assert model_store.latest_version(conn) == 1  # nothing to learn: no retraining
        # When an agent corrects a decision
        route(routing, recategorised(1, "网络质量"), conn)
        # Then the worker retrains in the background, and uses the new version
        wait_for(lambda: list(routing.tick(conn)) == [] and model_store.latest_version(conn) == 2,
                 what="the scheduled retraining")  # fmt: skip
        (latest, _) = model_store.models(conn)
        assert (latest.origin, latest.corrections) == ("schedule", 1)
        wait_for(lambda: list(routing.tick(conn)) == [] and routing.models.version == 2,
                 what="the new version in use")  # fmt: skip
        d = route(routing, registered(2, "我买的提速包没有生效"), conn)
        assert (d.category, d.model_version) == ("网络质量", "v2")


def test_evaluate_reports_folds_per_category_figures_and_draws_the_matrix(setup, tmp_path):
    s, mapping, export = setup
    result = classifier.evaluate(s, export, mapping, folds=3, progress=False)
    scores = result.scores
    assert len(scores.fold_accuracy) == 3 and scores.total == 72
    assert [label for label, *_ in scores.per_category()] == ["服务态度", "网络质量", "费用问题"]
    text = classifier.render(result)
    assert "over 3 folds" in text and "keyword classifier on the same rows" in text
    from services.commands.confusion_chart import write_chart

    png = write_chart(scores, tmp_path / "cm.png", title=result.what)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_labels_outside_the_taxonomy_are_refused_with_each_named(setup, tmp_path):
    s, mapping, _ = setup
    bad = write_export(
        tmp_path / "bad.csv", extra=[("退款慢", "退款"), ("又退款慢", "退款"), ("x", "其他")]
    )
    with pytest.raises(ValueError) as err:
        classifier.train(s, bad, mapping, progress=False)
    assert "'退款' (2 rows), '其他' (1 rows)" in str(err.value)
    assert classifier.list_models(s).startswith("No trained model: routing uses the keyword")


def test_activate_and_rollback_switch_the_running_worker_and_refuse_what_cannot_be_used(
    setup, tmp_path
):
    s, mapping, export = setup
    with psycopg.connect(s.db_url(), autocommit=True) as conn:
        routing = start(s, conn)
        with pytest.raises(ValueError, match="nothing to roll back"):
            classifier.rollback(s)
        classifier.train(s, export, mapping, progress=False)
        with pytest.raises(ValueError, match="the oldest stored model"):
            classifier.rollback(s)
        classifier.train(
            s, write_export(tmp_path / "v2.csv", per_phrase=8), mapping, progress=False
        )
        list(routing.tick(conn))
        assert routing.models.version == 2
        # When the previous version is rolled back to, the running worker uses it
        said = classifier.rollback(s)
        assert said.startswith("model v1 in use (rolled back from v2)")
        list(routing.tick(conn))
        d = route(routing, registered(1, "宽带又断网了"), conn)
        assert (d.category, d.model_version) == ("网络质量", "v1")
        assert "v1 " in classifier.list_models(s).split("← in use")[0].splitlines()[-1]
        # And a version activated by number likewise
        assert classifier.activate(s, "2").startswith("model v2 in use (activated)")
        list(routing.tick(conn))
        assert route(routing, registered(2, "宽带又断网了"), conn).model_version == "v2"
        # And what does not exist, or is not a version, is refused with what there is
        with pytest.raises(ValueError, match=r"no model version 7 \(stored: v2, v1\)"):
            classifier.activate(s, "v7")
        with pytest.raises(ValueError, match="activate: expected a version"):
            classifier.activate(s, "newest")
        # And a newly trained version is put in use
        classifier.train(s, export, mapping, progress=False)
        assert model_store.in_use(conn) == 3
