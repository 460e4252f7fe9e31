"""The progress display: on stderr, driven by the run's state, wire names escaped."""

from __future__ import annotations

import io

from rich.console import Console

from inspector.report.progress import ProgressView
from inspector.tally import RunState


def test_the_view_shows_the_files_and_counts_and_leaves_nothing_behind() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True)
    with ProgressView(console) as view:
        view.update(RunState(files_total=2, files_done=1, current="cap\x1b[2J.pcap", bytes_read=10, bytes_total=100,
                             packets=5, exchanges=3, findings=1))  # fmt: skip
        view._progress.refresh()  # draw now rather than at the display's next tick
        shown = out.getvalue()
    assert "[1/2]" in shown
    assert "5 packets, 3 exchanges, 1 findings" in shown
    assert "cap\\x1b[2J.pcap" in shown
    assert "\x1b[2J" not in shown


def test_an_update_outside_the_view_is_ignored() -> None:
    view = ProgressView(Console(file=io.StringIO()))
    view.update(RunState())  # not started: nothing to update, and no error
