"""Terminal output: a progress line while running, a summary table at the end (rich, on stderr)."""

from __future__ import annotations

import time
from collections import Counter

from rich.console import Console
from rich.table import Table

console = Console(stderr=True, highlight=False)


class Progress:
    """Samples done, kept, dropped and rate; a live line on a terminal, a line every 10 s in logs."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled
        self.done = self.kept = self.dropped = 0
        self.t0 = time.time()
        self._last = 0.0
        self._status = None
        if enabled and console.is_terminal:
            self._status = console.status(self._text())
            self._status.start()

    def _text(self) -> str:
        rate = self.done / max(1e-9, time.time() - self.t0)
        return (f"{self.label}: {self.done} done, {self.kept} kept, {self.dropped} dropped, "
                f"{rate:.1f} samples/s")

    def update(self, kept: bool) -> None:
        self.done += 1
        if kept:
            self.kept += 1
        else:
            self.dropped += 1
        now = time.time()
        if not self.enabled:
            return
        if self._status is not None and now - self._last > 0.2:
            self._status.update(self._text())
            self._last = now
        elif self._status is None and now - self._last > 10:
            console.print(self._text())
            self._last = now

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()


def print_summary(title: str, seen: int, kept: int, dropped: Counter[str], seconds: float, out: str) -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    table.add_row("kept", str(kept), f"{kept / seen:.1%}" if seen else "-")
    for reason, n in sorted(dropped.items(), key=lambda kv: -kv[1]):
        table.add_row(f"dropped: {reason}", str(n), f"{n / seen:.1%}" if seen else "-")
    table.add_row("total", str(seen), "", end_section=True)
    console.print(table)
    console.print(f"{seen} records in {seconds:.1f} s ({seen / max(seconds, 1e-9):.1f}/s); output in {out}")
