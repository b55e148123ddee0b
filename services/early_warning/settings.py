"""The early-warning detector's own settings (environment variables `CF_EW_*`)."""

from __future__ import annotations

from pydantic import Field

from services.early_warning.detector import Rules
from services.early_warning.spikes import SpikeRules
from services.kernel.settings import Settings


class EarlyWarningSettings(Settings):
    ew_window_minutes: int = Field(default=60, ge=5, le=1440)
    """Length of a spike window (event time); a day must hold a whole number of them."""
    ew_min_count: int = Field(default=5, ge=1)
    ew_min_ratio: float = Field(default=3.0, ge=1.0)
    ew_alpha: float = Field(default=1e-5, gt=0, lt=1)
    ew_warmup_hours: int = Field(default=24, ge=0)
    """History the detector learns from before it judges any spike."""
    ew_lateness_seconds: int = Field(default=600, ge=0)
    ew_collective_hours: int = Field(default=72, ge=1)
    ew_collective_customers: int = Field(default=3, ge=2)
    ew_collective_ratio: float = Field(default=3.0, ge=1.0)
    ew_collective_alpha: float = Field(default=1e-6, gt=0, lt=1)
    """A place's customers in the window are collective when improbable against what is usual
    there (or, in the first two weeks, at a typical place), at this upper-tail probability."""
    ew_theme_hours: int = Field(default=24, ge=1)
    ew_theme_threshold: float = Field(default=0.18, gt=0, lt=1)
    ew_theme_customers: int = Field(default=5, ge=2)
    ew_min_confidence: float = Field(default=0.6, ge=0, le=1)
    """Below this routing confidence no category explains a complaint (theme candidate)."""
    ew_live_seconds: int = Field(default=2 * 86_400, ge=60)
    """While the newest complaint is this recent, the wall clock closes quiet windows."""
    ew_exactly_once: bool = False
    """faust's `exactly_once` (tables, alerts and offsets in Kafka transactions). Off: with
    faust-streaming 0.15 on Kafka 4 the agents stall in it (see README, Early warning); the
    detector's own journal and de-duplication keep at-least-once delivery exact instead."""

    def rules(self) -> Rules:
        window = self.ew_window_minutes * 60
        if 86_400 % window:
            raise ValueError(f"CF_EW_WINDOW_MINUTES={self.ew_window_minutes} does not divide a day")
        spike = SpikeRules(
            window_seconds=window,
            min_count=self.ew_min_count,
            min_ratio=self.ew_min_ratio,
            alpha=self.ew_alpha,
        )
        per_hour = 3600 / window
        return Rules(
            spike=spike,
            lateness_seconds=self.ew_lateness_seconds,
            warmup_windows=round(self.ew_warmup_hours * per_hour),
            collective_seconds=self.ew_collective_hours * 3600,
            collective_customers=self.ew_collective_customers,
            collective_ratio=self.ew_collective_ratio,
            collective_alpha=self.ew_collective_alpha,
            theme_windows=max(1, round(self.ew_theme_hours * per_hour)),
            theme_threshold=self.ew_theme_threshold,
            theme_customers=self.ew_theme_customers,
        )
