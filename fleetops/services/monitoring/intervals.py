"""Status intervals (U3/U4): the up/down stretches the SQL uptime sums, stored in epoch seconds."""
from fleetops.models.monitoring import StatusInterval
from fleetops.services.monitoring.batch import Batch
from fleetops.services.monitoring.settings import epoch_s


def wanted(found, run_ids) -> list[tuple]:
    """The recomputed intervals as (start_s, end_s, state, outage_id); `run_ids`: run start → outage id."""
    out = [(epoch_s(i.start), epoch_s(i.end), i.state, run_ids[i.run_start] if i.run_start is not None else None)
           for i in found]
    return [w for w in out if w[1] > w[0]]


def interval_changes(anchor_s: int | None, want: list[tuple], existing: list[tuple]):
    """What replacing a device's intervals from `anchor_s` on with `want` changes, reusing stored rows.

    `existing`: (id, start_s, end_s, state, outage_id) of the stored intervals ending at or after the anchor.
    Returns ({id: new (start_s, end_s, state, outage_id)} for rows that change, [ids to delete], [rows to add])."""
    existing = sorted(existing, key=lambda iv: iv[1])
    cur = {iv[0]: list(iv[1:]) for iv in existing}
    before = [iv[0] for iv in existing if anchor_s is not None and iv[1] < anchor_s]
    after = [iv[0] for iv in existing if anchor_s is None or iv[1] >= anchor_s]
    for i in before:  # the stretch covering the anchor ends there; the recomputed part follows
        if cur[i][1] > anchor_s:
            cur[i][1] = anchor_s
    if before and want:
        last = cur[before[-1]]
        first = want[0]
        if last[1] == first[0] and last[2] == first[2] and last[3] == first[3]:
            last[1] = first[1]
            want = want[1:]
    for i, w in zip(after, want):
        cur[i] = list(w)
    deleted = after[len(want):]
    gone = set(deleted)
    changed = {iv[0]: tuple(cur[iv[0]]) for iv in existing
               if iv[0] not in gone and tuple(cur[iv[0]]) != tuple(iv[1:])}
    return changed, deleted, list(want[len(after):])


def persist_intervals(b: Batch, device_id, anchor, found, run_rows, existing: list[StatusInterval]) -> None:
    """Replace the device's intervals from `anchor` on with the recomputed ones (`found`), reusing rows."""
    want = wanted(found, {start: row.id for start, row in run_rows.items()})
    by_id = {iv.id: iv for iv in existing}
    changed, deleted, added = interval_changes(
        epoch_s(anchor) if anchor is not None else None, want,
        [(iv.id, iv.start_s, iv.end_s, iv.state, iv.outage_id) for iv in existing])
    for i, (start_s, end_s, state, outage_id) in changed.items():
        iv = by_id[i]
        iv.start_s, iv.end_s, iv.state, iv.outage_id = start_s, end_s, state, outage_id
    for i in deleted:
        b.s.delete(by_id[i])
    for w in added:
        b.s.add(StatusInterval(device_id=device_id, start_s=w[0], end_s=w[1], state=w[2], outage_id=w[3]))
