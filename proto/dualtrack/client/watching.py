"""Resuming an event stream after a disconnect (shared by Client.watch and AsyncClient.watch).

The broker numbers events with a global sequence; ``WatchJobs(since_seq=n)`` replays everything after ``n``.
A stream that breaks (UNAVAILABLE, or CANCELLED by the server side) or ends while the caller still wants
events (the broker stopped) is reopened from the last sequence number seen, so nothing is lost or delivered
twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dualtrack.client.errors import BrokerUnavailable, DualtrackError
from dualtrack.client.requests import TERMINAL_STATES
from dualtrack.v1 import broker_pb2 as pb


def reopens(failure: DualtrackError) -> bool:
    """True for the failures after which a stream is reopened: the broker unreachable (UNAVAILABLE), or the
    stream CANCELLED by the other side. The SDK never cancels a stream it still reads (the caller's own
    cancellation arrives as ``asyncio.CancelledError`` or a closed generator, not as an error), and gRPC's
    asyncio server has been measured cancelling a few streams while thousands open at once (docs/sdk.md,
    "Watching")."""
    return isinstance(failure, BrokerUnavailable) or failure.code == "CANCELLED"


@dataclass
class Resume:
    job_id: str
    since: int
    until_terminal: bool
    reconnect: bool
    reconnect_timeout: float
    finished: bool = False
    _delay: float = 0.1
    _gave_up_at: float | None = field(default=None, repr=False)

    def request(self) -> pb.WatchJobsRequest:
        return pb.WatchJobsRequest(job_id=self.job_id, since_seq=self.since, follow_until_terminal=self.until_terminal)

    def seen(self, event: pb.JobEvent) -> None:
        self.since = max(self.since, event.seq)
        self._delay, self._gave_up_at = 0.1, None  # the stream works again: a later outage gets the full budget
        if self.until_terminal and self.job_id and event.type == "state" and event.state in TERMINAL_STATES:
            self.finished = True

    def dropped(self) -> bool:
        """The stream ended on its own: True when the caller still expects events (a broker shutdown)."""
        return not self.finished

    def may_retry(self) -> bool:
        if not self.reconnect:
            return False
        now = time.monotonic()
        if self._gave_up_at is None:
            self._gave_up_at = now + self.reconnect_timeout
        return now < self._gave_up_at

    def backoff(self) -> float:
        delay = self._delay
        self._delay = min(2.0, self._delay * 2)
        return delay
