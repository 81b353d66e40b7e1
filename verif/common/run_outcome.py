"""The result of starting a program on a device (shared by the cocotb driver and the golden device)."""

from dataclasses import dataclass


@dataclass
class RunOutcome:
    """finished: busy fell within the cycle budget; wall_seconds: host time the run took."""
    finished: bool
    wall_seconds: float
