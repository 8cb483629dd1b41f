"""Pure counting: precinct reports in, tallies, printed figures, snapshots and alerts out.

No Kafka, faust, asyncio or web here (an import-linter contract says so): everything is a plain
function or a small class, tested without a broker. `tally` keeps one `RaceTally` per race,
state and mode; `figures` holds the number rules (shares, percent counted, the readouts, swing);
`snapshots` assembles the `state-results` and `county-results` messages; `alerts` decides
`results-alerts`; `race_book` keeps definitions and expected votes; `calls` the race calls and
the alerts they raise (and `runoff_likely`); `race_status` a snapshot's seats, call and
tabulation status; `room` (`CountingRoom`) holds it all for a worker and says what is due to
publish; `holds` keeps a rebuilt tally from publishing below what an earlier owner already had.
"""

from streams.counting.alerts import alert_value
from streams.counting.holds import COUNTED_HEADER, Floor, Holds
from streams.counting.race_book import RaceBook
from streams.counting.room import CountingRoom, Snapshot
from streams.counting.snapshots import county_snapshot, state_snapshot
from streams.counting.tally import Applied, RaceTally, StoredUnit

__all__ = [
    "COUNTED_HEADER",
    "Applied",
    "CountingRoom",
    "Floor",
    "Holds",
    "RaceBook",
    "RaceTally",
    "Snapshot",
    "StoredUnit",
    "alert_value",
    "county_snapshot",
    "state_snapshot",
]
