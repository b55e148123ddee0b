"""Notices rendered from Jinja2 templates, one per (channel, kind, language), shipped in
`templates/<channel>/<kind>.<language>.j2` and overridable file by file from an operator's folder.

Sandboxed, `StrictUndefined` (a misspelt variable is an error, not an empty string), and the
HTML part autoescaped. Customer text only ever enters as a variable's value: it is data, never
template source, so `{{ 7*7 }}` in a complaint is sent as written and `<script>` is escaped.
Each template defines the blocks `subject`, `text` and (for email) `html`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from schemas.common import Language
from services.kernel.errors import ConfigError

SHIPPED = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


class Templates:
    def __init__(self, override: Path | None = None, *, fallback: Language = Language.EN) -> None:
        folders = [str(override)] if override else []
        loader = ChoiceLoader([FileSystemLoader([*folders, str(SHIPPED)])])
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": True,
            # Templates are checked once at start and a change needs a restart (below): no
            # file is looked at again for every notice rendered.
            "auto_reload": False,
        }
        self._plain = SandboxedEnvironment(autoescape=False, **common)
        self._html = SandboxedEnvironment(autoescape=True, **common)
        self.fallback = fallback
        self.check()
        self._known = set(self._plain.list_templates(extensions=["j2"]))
        """Read once: the folders are checked at start, and a change needs a restart."""

    def check(self) -> None:
        """Compile every template now, so a broken one stops the worker at start."""
        problems = []
        for name in self._plain.list_templates(extensions=["j2"]):
            for env in (self._plain, self._html):
                try:
                    env.get_template(name)
                except TemplateError as exc:
                    line = getattr(exc, "lineno", None)
                    problems.append(f"  {name}:{line or '?'}: {exc}")
                    break
        if problems:
            raise ConfigError(
                "templates: " + str(len(problems)) + " problem(s)\n" + "\n".join(problems)
            )

    def name(self, channel: str, kind: str, language: Language) -> str:
        """The channel's own template, else the email one (chat and webhooks use its text)."""
        for folder in dict.fromkeys((channel, "email")):
            for lang in (language, self.fallback):
                name = f"{folder}/{kind}.{lang.value}.j2"
                if name in self._known:
                    return name
        raise ConfigError(
            f"no template for {channel}/{kind} in {language.value} or {self.fallback.value}"
        )

    def render(self, channel: str, kind: str, language: Language, **context: Any) -> Rendered:
        name = self.name(channel, kind, language)
        plain = self._plain.get_template(name)
        html = self._html.get_template(name)
        return Rendered(
            subject=" ".join(_block(plain, "subject", context).split()),
            text=_block(plain, "text", context).strip() + "\n",
            html=_block(html, "html", context).strip() + "\n" if "html" in html.blocks else None,
        )


def _block(template: Any, block: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(context)))
