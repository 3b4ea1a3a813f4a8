"""The report's language: every heading, cell and note a person reads is a msgid (msgctxt "report", in
translations/zh/reports.po) rendered in the report's locale; stored values are shown with the domain enums' labels.

Inside a report builder `_ = Words(locale)`, so `_("Summary")` and `_("Due within %(days)s days", days=30)`
read like gettext (and the catalogue test sees every msgid)."""
from datetime import datetime

from fleetops.domain.choices import DeviceKind
from fleetops.domain.quality import FindingKind
from fleetops.domain.text import Msg
from fleetops.domain.tickets import DeadlineKind, FaultCategory
from fleetops.domain.uptime import OutageCause
from fleetops.platform import clock
from fleetops.platform.i18n import normalise

CONTEXT = "report"  # one msgctxt for report text, so short words ("Month", "Devices") never clash with pages


class Words:
    """Renders report text in one locale (zh by default)."""

    def __init__(self, locale: str | None = "zh"):
        self.locale = normalise(locale or "zh")
        self._plain: dict[str, str] = {}  # words without parameters, rendered once (a yes/no per row of 10,000)

    def __call__(self, msgid: str, **params) -> str:
        if not params:
            word = self._plain.get(msgid)
            if word is None:
                word = self._plain[msgid] = Msg(msgid, context=CONTEXT).render(self.locale)
            return word
        return Msg(msgid, context=CONTEXT, **params).render(self.locale)

    def yes_no(self, flag: bool) -> str:
        return self("Yes") if flag else self("No")

    def join(self, items) -> str:
        """A list inside one cell: 、 in Chinese, a comma in English."""
        return ("、" if self.locale == "zh" else ", ").join(items)

    # stored values → labels, from the domain's enums
    def kind(self, value) -> str:
        return DeviceKind.label_of(value, self.locale)

    def finding(self, value) -> str:
        return FindingKind.label_of(value, self.locale)

    def cause(self, value) -> str:
        return OutageCause.label_of(value, self.locale)

    def fault(self, value) -> str:
        return FaultCategory.label_of(value, self.locale)

    def deadline(self, value) -> str:
        return DeadlineKind.label_of(value, self.locale)


def local_text(dt: datetime | None) -> str:
    """A stored UTC time as people read it, in the one configured TIMEZONE."""
    return clock.to_local(dt).strftime("%Y-%m-%d %H:%M") if dt else ""
