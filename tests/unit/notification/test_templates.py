"""Templates: customer text is data, the HTML part is escaped, a misspelt variable is an error,
and an operator's folder overrides a shipped template."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import UndefinedError

from schemas.common import Language
from services.kernel.errors import ConfigError
from services.notification.templates import Templates

HOSTILE = "账单多扣了钱 {{ 7*7 }} <script>alert(1)</script> & {% raw %}"


def ack(templates: Templates, language: Language = Language.EN, **extra: object):
    context = dict(reference="CF-7KQ2-M9XD", subject=None, description=HOSTILE, promise=None)
    context.update(extra)
    return templates.render("email", "acknowledgement", language, **context)


def test_customer_text_is_sent_as_written_and_escaped_in_html():
    out = ack(Templates())
    assert HOSTILE in out.text  # plain text: exactly as written, nothing evaluated
    assert "49" not in out.text
    assert out.html is not None
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html
    assert "<script>" not in out.html
    assert "{{ 7*7 }}" in out.html


def test_the_reference_is_in_the_subject_in_every_language():
    for lang in Language:
        assert "CF-7KQ2-M9XD" in ack(Templates(), lang).subject


def test_a_missing_variable_is_an_error_not_an_empty_string():
    templates = Templates()
    with pytest.raises(UndefinedError):
        templates.render("email", "acknowledgement", Language.EN, reference="CF-1")


def test_an_operator_folder_overrides_one_template(tmp_path: Path):
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "acknowledgement.en.j2").write_text(
        "{% block subject %}Got it: {{ reference }}{% endblock %}"
        "{% block text %}{{ description }}{% endblock %}"
    )
    templates = Templates(tmp_path)
    out = ack(templates)
    assert out.subject == "Got it: CF-7KQ2-M9XD"
    assert out.html is None
    assert "我们已收到" in ack(templates, Language.ZH_HANS).subject  # the rest still shipped


def test_a_broken_operator_template_stops_the_start(tmp_path: Path):
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "assigned.en.j2").write_text("{% block subject %}{{ oops {% endblock %}")
    with pytest.raises(ConfigError, match="assigned.en.j2"):
        Templates(tmp_path)


def test_the_sandbox_refuses_unsafe_attribute_access(tmp_path: Path):
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "acknowledgement.en.j2").write_text(
        "{% block subject %}{{ reference.__class__.__mro__ }}{% endblock %}"
        "{% block text %}x{% endblock %}"
    )
    from jinja2.exceptions import SecurityError

    with pytest.raises((SecurityError, UndefinedError)):
        ack(Templates(tmp_path))
