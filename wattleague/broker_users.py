"""Who may do what on the broker, derived from the competition files.

One user per publishing device: a meter (meters of one multi-channel device share its topic and
its user, named after the first meter), a weather station (``weather-<id>``) and an AWTRIX
clock (``display-<id>``, its own ``<prefix>/#``). Service users: ``wattleague-ingest`` reads
every meter and weather topic (``$share/<group>/…`` too), ``wattleague-display`` writes the
clocks' custom-app topics, ``wattleague-monitor`` may only connect (``serve --health-mqtt``),
``wattleague-homeassistant`` (when a competition has ``[home_assistant]``) publishes and reads
back its discovery configs, states and availability (``serve --mqtt``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paho.mqtt.client import topic_matches_sub

from ingest.routing import Routing
from scoring.competition import Competition

INGEST_USER = "wattleague-ingest"
DISPLAY_USER = "wattleague-display"
MONITOR_USER = "wattleague-monitor"
HOME_ASSISTANT_USER = "wattleague-homeassistant"
SERVICE_USERS = (INGEST_USER, DISPLAY_USER, MONITOR_USER, HOME_ASSISTANT_USER)

# an ACL file is line based and Mosquitto trims what it reads: refuse what would not round-trip
_UNSAFE_TOPIC = re.compile(r"[\x00-\x1f\x7f]|^\s|\s$")


class BrokerUsersError(ValueError):
    """Something in the competition files that cannot become a safe ACL; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class BrokerUser:
    name: str
    role: str  # meter | weather | display-clock | ingest | display | monitor | home-assistant
    write: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    readwrite: list[str] = field(default_factory=list)
    serves: list[str] = field(default_factory=list)  # meters / station / display it stands for


def broker_users(competitions: list[Competition]) -> list[BrokerUser]:
    """Every broker user the competitions need, devices first, in file order."""
    users: dict[str, BrokerUser] = {}
    problems: list[str] = []
    user_of_topic: dict[str, str] = {}

    def device(name: str, role: str, topic: str, serves: str, where: str) -> None:
        if _UNSAFE_TOPIC.search(topic):
            problems.append(
                f"{where}: topic {topic!r} has control characters or leading/trailing spaces, "
                "which a Mosquitto ACL file cannot hold"
            )
            return
        owner = user_of_topic.setdefault(topic, name)
        user = users.setdefault(owner, BrokerUser(owner, role))
        if user.role != role:
            problems.append(f"{where}: user name {owner!r} is both a {user.role} and a {role}")
            return
        if user.write and topic not in user.write:
            # one user name, two devices on different topics (say meter "main" in two
            # competitions on one broker): one password would let each forge the other's data
            problems.append(
                f"{where}: user name {owner!r} would serve two devices, on {user.write[0]!r} "
                f"({user.serves[0]}) and on {topic!r}: give them different ids (meter and "
                "weather station ids must be unique across the competitions on one broker)"
            )
            return
        if topic not in user.write:
            user.write.append(topic)
        user.serves.append(serves)

    for comp in competitions:
        cid = comp.competition.id
        topics = comp.topics_by_meter()
        for site in comp.sites:
            for meter in site.meters:
                device(
                    meter.id,
                    "meter",
                    topics[meter.id],
                    f"{cid}/{site.id}/{meter.id}",
                    f"competition {cid!r}, site {site.id!r}, meter {meter.id!r}",
                )
        weather_topics = comp.weather_topics()
        for station in comp.weather:
            device(
                f"weather-{station.id}",
                "weather",
                weather_topics[station.id],
                f"{cid}/weather/{station.id}",
                f"competition {cid!r}, weather station {station.id!r}",
            )
    clock_topics: list[str] = []
    for comp in competitions:
        for disp in comp.displays:
            if disp.kind != "awtrix" or disp.awtrix_prefix is None:
                continue
            name = f"display-{disp.id}"
            if name in users:
                problems.append(f"display {disp.id!r}: user name {name!r} is already taken")
                continue
            clock_filter = f"{disp.awtrix_prefix}/#"
            covered = [t for t in user_of_topic if topic_matches_sub(clock_filter, t)]
            ingest_read = [
                f for f in Routing.from_competitions(competitions).subscriptions()
                if _filters_overlap(clock_filter, f)
            ]  # fmt: skip
            if covered or ingest_read:
                what = covered[0] if covered else ingest_read[0]
                problems.append(
                    f"competition {comp.competition.id!r}, display {disp.id!r}: awtrix_prefix "
                    f"{disp.awtrix_prefix!r} covers {what!r}, which ingest reads: the clock "
                    f"may publish anything under {clock_filter!r}, so it could forge meter "
                    "readings. Use the clock's own prefix (e.g. awtrix_1a2b3c)"
                )
                continue
            # the clock subscribes to its whole prefix and publishes its stats there
            users[name] = BrokerUser(
                name, "display-clock", readwrite=[f"{disp.awtrix_prefix}/#"], serves=[disp.id]
            )
            clock_topics.append(f"{disp.awtrix_prefix}/custom/{disp.awtrix_app}")
    for name in SERVICE_USERS:
        if name in users:
            problems.append(f"meter or station id {name!r} collides with a service user name")
    if problems:
        raise BrokerUsersError(problems)

    read = Routing.from_competitions(competitions).subscriptions()
    users[INGEST_USER] = BrokerUser(INGEST_USER, "ingest", read=read, serves=["ingest workers"])
    if clock_topics:
        users[DISPLAY_USER] = BrokerUser(
            DISPLAY_USER, "display", write=sorted(set(clock_topics)), serves=["display client"]
        )
    users[MONITOR_USER] = BrokerUser(MONITOR_USER, "monitor", serves=["serve --health-mqtt"])
    published = [c for c in competitions if c.home_assistant is not None]
    if published:
        from api.home_assistant_discovery import STATE_ROOT, node_id

        readwrite, read = [], []
        for comp in published:
            prefix = comp.home_assistant.discovery_prefix
            readwrite += [f"{prefix}/sensor/{node_id(comp.id)}/#", f"{STATE_ROOT}/{comp.id}/#"]
            read.append(f"{prefix}/status")  # Home Assistant's birth message: publish again
        users[HOME_ASSISTANT_USER] = BrokerUser(
            HOME_ASSISTANT_USER,
            "home-assistant",
            readwrite=list(dict.fromkeys(readwrite)),
            read=list(dict.fromkeys(read)),
            serves=["serve --mqtt (Home Assistant discovery)"],
        )
    return list(users.values())


def _filters_overlap(a: str, b: str) -> bool:
    """True when some topic matches both MQTT filters ``a`` and ``b``."""
    pa, pb = a.split("/"), b.split("/")
    for x, y in zip(pa, pb, strict=False):
        if x == "#" or y == "#":
            return True
        if x != y and "+" not in (x, y):
            return False
    longer, shorter = (pa, pb) if len(pa) >= len(pb) else (pb, pa)
    # "a/#" also matches "a" itself
    return len(longer) == len(shorter) or longer[len(shorter) :] == ["#"]


def acl_text(users: list[BrokerUser], source: str) -> str:
    """A Mosquitto ``acl_file``: each user may only what is listed under it."""
    lines = [
        f"# Mosquitto ACL generated by `wattleague deploy mosquitto-acl` from {source}.",
        "# Regenerate it after changing the competition file; do not edit by hand.",
        "# Anything not granted here is denied (a denied publish is dropped by the broker).",
        "",
    ]
    for user in users:
        lines.append(f"# {user.role}: {', '.join(user.serves)}")
        lines.append(f"user {user.name}")
        lines += [f"topic write {t}" for t in user.write]
        lines += [f"topic read {t}" for t in user.read]
        lines += [f"topic readwrite {t}" for t in user.readwrite]
        lines.append("")
    return "\n".join(lines)
