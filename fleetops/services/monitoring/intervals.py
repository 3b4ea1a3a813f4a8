"""Status intervals (U3/U4): the up/down stretches the SQL uptime sums, stored in epoch seconds."""
from fleetops.models.monitoring import StatusInterval
from fleetops.services.monitoring.batch import Batch
from fleetops.services.monitoring.settings import epoch_s


def persist_intervals(b: Batch, device_id, anchor, found, run_rows, existing: list[StatusInterval]) -> None:
    """Replace the device's intervals from `anchor` on with the recomputed ones (`found`), reusing rows."""
    want = [(epoch_s(i.start), epoch_s(i.end), i.state,
             run_rows[i.run_start].id if i.run_start is not None else None) for i in found]
    want = [w for w in want if w[1] > w[0]]
    existing = sorted(existing, key=lambda iv: iv.start_s)
    anchor_s = epoch_s(anchor) if anchor is not None else None
    before = [iv for iv in existing if anchor_s is not None and iv.start_s < anchor_s]
    after = [iv for iv in existing if anchor_s is None or iv.start_s >= anchor_s]
    for iv in before:  # the stretch covering the anchor ends there; the recomputed part follows
        if iv.end_s > anchor_s:
            iv.end_s = anchor_s
    if before and want:
        last = before[-1]
        first = want[0]
        if last.end_s == first[0] and last.state == first[2] and last.outage_id == first[3]:
            last.end_s = first[1]
            want = want[1:]
    for iv, w in zip(after, want):
        iv.start_s, iv.end_s, iv.state, iv.outage_id = w
    for iv in after[len(want):]:
        b.s.delete(iv)
    for w in want[len(after):]:
        b.s.add(StatusInterval(device_id=device_id, start_s=w[0], end_s=w[1], state=w[2], outage_id=w[3]))
