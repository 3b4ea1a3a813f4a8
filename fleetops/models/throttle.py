"""Sign-in throttling counters shared by every web process (platform/throttle_store.py, Flask-Limiter's storage).

One row per limit key and fixed window: the key names the limit and whom it counts (an account's user name or an
address, never a password), `hits` the failures in the window, `expires_at` its end (epoch seconds). Expired rows are
overwritten by the next failure and deleted by the store now and then."""
from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fleetops.models.base import Base


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"
    limit_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_rate_limit_counters_expires_at", "expires_at"),)
