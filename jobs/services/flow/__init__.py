"""Flow control's writes: a type's settings (settings), the limiters taken at the claim (limiter), waiting and wake-ups (waiting), the claim's gate (gate)."""

from jobs.services.flow.settings import type_pause, type_resume, type_settings_update

__all__ = ["type_pause", "type_resume", "type_settings_update"]
