"""The two stages of ``analyze --jobs 2`` on one capture, run one at a time (by hand, not a test), so that
``bench/instructions.py`` can count each: which stage bounds the pipeline, and what the items' crossing costs.

    uv run python bench/stages.py read CAPTURE SPOOL        # the reader: the timeline read and spooled
    uv run python bench/stages.py judge SPOOL               # the judge: the spool joined, analysed, written as JSON
    uv run python bench/stages.py imports                   # what both import, to subtract from their counts
    uv run python bench/instructions.py --script bench/stages.py -- read CAPTURE SPOOL

``judge`` reads a copy of the spool (reading removes it), so one ``read`` serves many ``judge`` runs. Neither
stage is timed here: count them, or time them on a quiet machine with ``/usr/bin/time``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from inspector.analyze import Analyzer
from inspector.inventory import Inventory
from inspector.policy import Policy
from inspector.report.writers import JsonWriter
from inspector.run import Publisher
from inspector.tally import Totals
from inspector.timeline import read_timeline, spooled_timeline, timeline_inputs
from inspector.trust import Trust


def read(capture: Path, spool: Path) -> None:
    # Not paced: nothing reads the spool meanwhile (a paced writer would wait for ever past SPOOL_AHEAD).
    read_timeline(timeline_inputs([(capture, "pcap")]), None, str(spool), paced=False)


def judge(spool: Path) -> None:
    copy = spool.with_name(spool.name + ".copy")
    shutil.copyfile(spool, copy)
    totals, inventory = Totals(), Inventory()
    with open("/dev/null", "w") as out:
        writer = JsonWriter(out, [], show_secrets=False)
        publisher = Publisher(Analyzer(Trust(), Policy()), writer, totals, inventory)
        publisher.items(spooled_timeline(str(copy), lambda: True))
        publisher.end()
        writer.close(totals, inventory)
    Path(f"{copy}.read").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["read"] and len(argv) == 3:
        read(Path(argv[1]), Path(argv[2]))
    elif argv[:1] == ["judge"] and len(argv) == 2:
        judge(Path(argv[1]))
    elif argv != ["imports"]:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
