"""Body of ``GET /healthz``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BrokerState(BaseModel):
    """The MQTT broker probe's view (``serve --health-mqtt``)."""

    address: str = Field(description="host:port of the broker")
    connected: bool = Field(description="connected to the broker now")
    error: str | None = Field(description="why not, while it is not")


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when the store (or broker) is away")
    version: str = Field(description="the installed wattleague version")
    store: bool = Field(description="the store answers")
    store_error: str | None = Field(description="problem code when it does not (no raw text)")
    store_hint: str | None = Field(description="what to do about store_error")
    store_latency_s: float = Field(description="time the store took to answer [s]")
    broker: BrokerState | None = Field(description="null without a broker probe")
    competitions: int = Field(description="competitions served")
    sse_clients: int = Field(description="open leaderboard streams")
