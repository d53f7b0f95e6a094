"""The reconciler: numbered steps over one snapshot per cycle, run by APScheduler under a leader lease.

Steps (design section 5), each a small function of a ``Cycle`` in its own module:
  1. place      ACCEPTED jobs in one batch (assume/undo inside the policy engine)
  2. dispatch   PLACED jobs to their backend, idempotently (``dt-<id>-<attempt>``)
  3. observe    SUBMITTED/QUEUED/RUNNING jobs on their backends; retries of infrastructure failures
  4. limits     time limits the backends did not enforce
  5. reroute    jobs pending longer than their pendingTimeout, or stranded on a dead backend
  5a. migrate   operators' migration requests (``dualtrack migrate``), at the job's next checkpoint
  6. zombies    backend jobs carrying a broker id that is terminal, unknown or of an older attempt
"""

from dualtrack.broker.reconciler.loop import Reconciler

__all__ = ["Reconciler"]
