"""Headless Chromium (Debian's `chromium`): a page printed to PDF, or photographed as PNG."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The browser's path; a clear error naming the package when there is none."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "no Chromium to render with: install Debian's chromium (apt-get install chromium;"
        " .ci/run installs it)"
    )


def _run(page: Path, *flags: str) -> None:
    with tempfile.TemporaryDirectory(prefix="cf-chromium-") as profile:
        done = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",  # run as root in CI containers
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                f"--user-data-dir={profile}",
                *flags,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")


def print_pdf(page: Path, out: Path) -> Path:
    """The page printed to a PDF file."""
    _run(page, f"--print-to-pdf={out.resolve()}", "--no-pdf-header-footer")
    if not out.exists():
        raise RuntimeError(f"chromium wrote no PDF to {out}")
    return out


def screenshot(page: Path, out: Path, *, width: int = 1280, height: int = 4000) -> Path:
    """A PNG of the page's first `height` pixels at `width`."""
    _run(page, f"--screenshot={out.resolve()}", f"--window-size={width},{height}")
    if not out.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {out}")
    return out
