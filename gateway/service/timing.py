"""Where one message's time goes: the stages of its handling, in its log line.

``stage_ms`` is each stage's elapsed time and ``stage_cpu_ms`` the CPU the event loop's
thread spent in it (the rest of a stage is waiting: for the store's thread, the disk or the
downstream). Times only; never anything of the message itself.
"""

from __future__ import annotations

import time


class Stopwatch:
    """Laps of one message's handling: ``lap(stage)`` ends the stage running since the last
    lap (or since the start). A stage lapped twice adds up."""

    __slots__ = ("_cpu", "_wall", "cpu", "wall")

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.thread_time()
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        self.wall[stage] = self.wall.get(stage, 0.0) + wall - self._wall
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu - self._cpu
        self._wall, self._cpu = wall, cpu

    def fields(self) -> dict[str, dict[str, float]]:
        """The log line's fields, in milliseconds."""
        return {"stage_ms": {k: round(v * 1000, 3) for k, v in self.wall.items()},
                "stage_cpu_ms": {k: round(v * 1000, 3) for k, v in self.cpu.items()}}
