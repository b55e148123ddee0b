"""The detector's state goes to its changelog through faust's JSON codec: on orjson (a
dependency), texts as UTF-8 and every float read back exactly."""

from __future__ import annotations

from faust.serializers import codecs
from faust.utils import json as faust_json

from services.early_warning.detector import Detector, Rules
from services.early_warning.signals import Signal


def test_faust_encodes_the_tables_with_orjson():
    # The stdlib encoder took three times as long a value (faust's changelog writes were a
    # tenth of the detector's time) and wrote each Chinese character as six bytes (`\uXXXX`).
    assert faust_json.orjson is not None


def test_a_step_of_state_round_trips_exactly_and_texts_stay_utf8():
    # Given the state one complaint leaves (floats of event time, Chinese text, nested lists)
    state: dict[str, object] = {}
    signal = Signal(
        complaint_id="c-1",
        occurred_at=1_773_540_000.123456,
        part=0,
        customer="cus_a",
        category="billing",
        region="上海",
        product="宽带",
        channel="phone",
        place="南京东路营业厅",
        text="营业厅多收了宽带费 0.1 元",
        explained=False,
    )
    Detector(state, Rules()).observe(signal)
    assert state
    for key, value in state.items():
        # When each value is written to the changelog and read back
        raw = codecs.dumps("json", value)
        # Then it is the same value, floats to the last bit, and text is UTF-8
        assert codecs.loads("json", raw) == value, key
    assert "南京东路营业厅".encode() in codecs.dumps("json", dict(state))
