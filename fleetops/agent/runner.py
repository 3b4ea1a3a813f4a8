"""One agent cycle: flush the spool (oldest first), refresh the device list when its version changed, probe,
then push the new batch — or spool it when the centre cannot be reached (or older batches still wait, so the
centre always receives batches in the order they were made)."""
import logging
import time
import uuid
from datetime import datetime, timezone

from fleetops.agent import AGENT_VERSION
from fleetops.agent.client import Centre, CentreDown, Refused, Unauthorized
from fleetops.agent.spool import Spool
from fleetops.domain.text import Msg
from fleetops.services.agents.probing import Targets, probe

log = logging.getLogger(__name__)


class TokenRefused(Exception):
    """The centre refused the agent's token (revoked, or wrong): stop, keep the spool."""


class Agent:
    def __init__(self, centre: Centre, spool: Spool, say=print):
        self.centre, self.spool, self.say = centre, spool, say
        self.targets: Targets | None = None
        self.etag: str | None = None
        self.last: dict[str, float] = {}
        self.down_reason = ""

    @property
    def interval_s(self) -> int:
        return self.targets.interval_s if self.targets is not None else 60

    # -- one cycle -----------------------------------------------------------------------------------------
    def cycle(self) -> dict:
        """Returns {"probed", "pushed", "spooled", "flushed", "depth", "centre_up"}."""
        report = {"probed": 0, "pushed": 0, "spooled": 0, "flushed": 0, "depth": 0, "centre_up": True}
        kept = self.targets is None and self._load_kept()
        try:
            report["flushed"] = self.flush()
            self.refresh(kept)
        except CentreDown as err:
            report["centre_up"] = False
            self.down_reason = str(err)
        except Unauthorized:
            raise TokenRefused() from None
        except Refused as err:  # e.g. a wrong --server answering 404: not the centre (yet); keep going as if down
            report["centre_up"] = False
            self.down_reason = f"HTTP {err.status}"
        if kept and not report["centre_up"]:
            self.say(Msg("Using the device list kept from the last contact: %(n)s devices.", n=len(self.targets)))
        if self.targets is None:
            self._not_yet_in_contact()
            report["depth"] = self.spool.depth()
            report["no_device_list"] = True
            return report
        results, local, _mode = probe(self.targets, self.last)
        report["probed"] = len(results)
        ok = sum(1 for r in results if r["ok"])
        self.say(Msg("Probed: %(n)s results, %(ok)s ok, %(failed)s failed.", n=len(results), ok=ok,
                     failed=len(results) - ok))
        if local:
            self.say(Msg("%(n)s probes failed on this host itself (not counted against the devices).", n=local))
        batch_id = uuid.uuid4().hex
        if report["centre_up"] and self.spool.batches() == 0:
            try:
                self._push(batch_id, results, depth_after=0)
                report["pushed"] = len(results)
                self.say(Msg("Sent %(n)s results to the centre.", n=len(results)))
            except CentreDown:
                report["centre_up"] = False
        if not report["pushed"] and results and (not report["centre_up"] or self.spool.batches()):
            self._spool(batch_id, results)
            report["spooled"] = len(results)
        report["depth"] = self.spool.depth()
        return report

    def flush(self) -> int:
        """Send the spooled batches, oldest first; stops at the first that cannot be delivered (CentreDown)."""
        sent = batches = 0
        while True:
            item = self.spool.oldest()
            if item is None:
                break
            seq, batch_id, results = item
            depth_after = self.spool.depth() - len(results)
            try:
                self._push(batch_id, results, depth_after)
            except Refused as err:
                self.say(Msg("The centre refused a spooled batch (%(status)s): %(error)s. It was dropped.",
                             status=err.status, error=err.error))
            self.spool.remove(seq)
            sent += len(results)
            batches += 1
        if batches:
            self.say(Msg("Spool flushed: %(n)s results in %(batches)s batches sent to the centre.", n=sent,
                         batches=batches))
        return sent

    def refresh(self, kept: bool = False) -> None:
        """Fetch the device list and settings when their version changed (HTTP ETag). `kept`: the list in hand is
        the one a new process (a `--once` run by a timer) read from its spool, asked for by its version so that an
        unchanged list is not sent again — and said to be unchanged."""
        config, etag = self.centre.config(self.etag if self.targets is not None else None)
        if config is None:
            if kept:
                self.say(Msg("Device list unchanged since the last contact: %(n)s devices.", n=len(self.targets)))
            return
        self.targets = Targets(config)
        self.etag = etag
        self.spool.save_config(config)
        self._first_contact_made()
        self.say(Msg("Device list updated: %(n)s devices (version %(version)s).", n=len(self.targets),
                     version=(etag or "")[:8]))
        for code in self.targets.problems:
            self.say(Msg("Device %(code)s: its SNMP settings are not usable; it is probed without SNMP.",
                         code=code))

    # -- first contact (issue 14) ---------------------------------------------------------------------------------
    # The device list, the probe settings and the SNMP credentials come only from the centre: before the first
    # contact the agent knows nothing to probe. It says so, keeps count of the attempts in its spool (so the first
    # successful contact can say how long it took) and exits 0 with --once; the next contact fetches, probes, sends.
    def _not_yet_in_contact(self) -> None:
        tries = int(self.spool.get_meta("first_contact_tries") or 0) + 1
        since = self.spool.get_meta("first_contact_since") or datetime.now(timezone.utc).isoformat(
            timespec="seconds")
        self.spool.set_meta("first_contact_tries", str(tries))
        self.spool.set_meta("first_contact_since", since)
        self.say(Msg("Could not reach the centre at %(server)s (%(reason)s). This agent has not fetched its device "
                     "list yet, so nothing was probed and nothing was spooled.", server=self.centre.base,
                     reason=self.down_reason or "?"))
        self.say(Msg("Attempts to reach the centre so far: %(n)s, since %(since)s. The spool %(path)s is ready.",
                     n=tries, since=since, path=self.spool.path))

    def _first_contact_made(self) -> None:
        tries = self.spool.get_meta("first_contact_tries")
        if tries:
            self.say(Msg("The centre was reached after %(n)s failed attempts since %(since)s.", n=tries,
                         since=self.spool.get_meta("first_contact_since") or "?"))
            self.spool.delete_meta("first_contact_tries")
            self.spool.delete_meta("first_contact_since")

    def _load_kept(self) -> bool:
        """The device list (and its version) kept in the spool at the last contact, if any."""
        config = self.spool.config()
        if config:
            self.targets = Targets(config)
            self.etag = config.get("version")
        return bool(config)

    def _health(self, results: list[dict], depth_after: int) -> dict:
        now = datetime.now(timezone.utc)
        oldest = min((r["at"] for r in results), default=None)
        lag = max(0.0, (now - datetime.fromisoformat(oldest)).total_seconds()) if oldest else 0.0
        health = {"spool_depth": max(0, depth_after), "lag_s": round(lag, 1), "version": AGENT_VERSION}
        dropped = self.spool.dropped()
        if dropped:
            health["dropped"] = dropped
        return health

    def _push(self, batch_id: str, results: list[dict], depth_after: int) -> None:
        health = self._health(results, depth_after)
        try:
            answer = self.centre.push(batch_id, results, health)
        except Unauthorized:
            raise TokenRefused() from None
        if "dropped" in health:
            self.spool.dropped_reported(health["dropped"])
        refused = answer.get("rejected") or 0
        if refused:
            first = (answer.get("rejected_by_reason") or [{}])[0]
            self.say(Msg("The centre refused %(n)s results: %(reason)s", n=refused, reason=first.get("reason", "")))

    def _spool(self, batch_id: str, results: list[dict]) -> None:
        dropped = self.spool.add(batch_id, results)
        self.say(Msg("The centre is unreachable: %(n)s results spooled (%(depth)s waiting in %(path)s).",
                     n=len(results), depth=self.spool.depth(), path=self.spool.path))
        if dropped:
            self.say(Msg("The spool is full: the oldest %(n)s results were dropped (the centre will be told).",
                         n=dropped))

    # -- the loop ------------------------------------------------------------------------------------------
    def run(self, stop, cycles: int | None = None, on_cycle=None) -> None:
        """Cycle every POLL_INTERVAL_S (from the centre) until `stop()` is true (or `cycles` have run)."""
        n = 0
        while not stop():
            started = time.monotonic()
            report = self.cycle()
            n += 1
            if on_cycle is not None:
                on_cycle(n, report)
            last = cycles is not None and n >= cycles
            if report.get("no_device_list"):
                self.say(Msg("Run the agent again once the centre can be reached: it will then fetch the device list, "
                             "probe and send the results.") if last or stop() else
                         Msg("Trying again in %(s)s s.", s=self.interval_s))
            if last:
                return
            while not stop() and time.monotonic() - started < self.interval_s:
                time.sleep(min(0.2, max(0.0, self.interval_s - (time.monotonic() - started))))
