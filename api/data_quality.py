"""Data quality of one competition for organisers: silent meters, quarantine, completeness."""

from __future__ import annotations

from datetime import UTC, datetime

from api.scoreboard import STALE_AFTER_S, Scoreboard
from ingest.store.base import Store

RECENT_QUARANTINE = 20


def quality_view(board: Scoreboard, store: Store, now_s: float) -> dict:
    """Every meter's last reading and silence, quarantine counts by reason with the latest
    entries, and each site's completeness against the competition's minimum.

    ``now_s`` [Unix s]; a meter is silent when its last reading is older than
    ``STALE_AFTER_S`` (or when it never sent one).
    """
    comp = board.competition
    states = store.meter_states()
    meters = []
    for site in comp.sites:
        for meter in site.meters:
            st = states.get(meter.id)
            silent_s = None if st is None else max(0.0, now_s - st.last_ts_s)
            meters.append(
                {
                    "site": site.id,
                    "meter": meter.id,
                    "last_reading": None if st is None else board.local_iso(st.last_ts_s),
                    "received": None if st is None else board.local_iso(st.received_s),
                    "silent_s": None if silent_s is None else round(silent_s),
                    "silent": silent_s is None or silent_s > STALE_AFTER_S,
                    "power_w": None if st is None else st.power_w,
                }
            )
    # silent first, longest silence (never heard of: infinite) first
    meters.sort(
        key=lambda m: (
            not m["silent"],
            -(float("inf") if m["silent_s"] is None else m["silent_s"]),
            m["meter"],
        )
    )
    entries = board.leaderboard()["entries"]
    completeness = sorted(
        (
            {
                "site": e["site"],
                "name": e["name"],
                "completeness": e["completeness"],
                "hours_matched": e["hours_matched"],
                "eligible": e["eligible"],
            }
            for e in entries
        ),
        key=lambda e: (e["completeness"] if e["completeness"] is not None else -1, e["site"]),
    )
    info = comp.competition
    return {
        "competition": comp.id,
        "as_of": board.local_iso(now_s),
        "silent_after_s": STALE_AFTER_S,
        "meters": meters,
        "meters_silent": sum(m["silent"] for m in meters),
        "quarantine": {
            # the quarantine holds messages before they are known to belong to a competition
            "scope": "all competitions of this store",
            "counts": store.quarantine_counts(),
            "recent": [
                {
                    "id": r["id"],
                    "received": datetime.fromtimestamp(r["received_ms"] / 1e3, UTC).isoformat(),
                    "topic": r["topic"],
                    "reason": r["reason"],
                    "detail": r["detail"],
                }
                for r in store.list_quarantine(limit=RECENT_QUARANTINE)
            ],
        },
        "min_completeness_pct": info.min_completeness_pct,
        "completeness": completeness,
    }
