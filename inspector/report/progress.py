"""The progress display of long runs: on stderr, only when stderr is a terminal, never in the report itself."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from inspector.tally import RunState
from inspector.text import safe


class ProgressView:
    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.fields[name]}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressView:
        self._progress.start()
        self._task = self._progress.add_task("analyse", total=None, name="", detail="")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()

    def update(self, state: RunState) -> None:
        if self._task is None:
            return
        files = f"[{state.files_done}/{state.files_total}] " if state.files_total > 1 else ""
        detail = f"{state.packets:,} packets, {state.exchanges:,} exchanges, {state.findings:,} findings"
        self._progress.update(
            self._task,
            completed=state.bytes_read,
            total=state.bytes_total or None,
            name=files + safe(state.current, 40),
            detail=detail,
        )
