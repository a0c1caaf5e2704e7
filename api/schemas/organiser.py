"""Bodies of the organisers' write endpoints: bulk readings, annotations, the quarantine and
site edits (``api.organiser``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class QuarantinedReading(BaseModel):
    reason: str = Field(description="quarantine reason code, e.g. unknown_meter")
    detail: str = Field(description="what was wrong with it")


class ReadingsStored(BaseModel):
    stored: int = Field(description="readings stored")
    duplicates: int = Field(description="readings already stored (the same values)")
    quarantined: list[QuarantinedReading] = Field(description="readings set aside, and why")


class ReadingsRejectedDetail(BaseModel):
    code: str = Field(description="rejected")
    message: str = Field(description="the first reasons, joined")
    quarantined: list[QuarantinedReading] = Field(description="every reading set aside, and why")


class ReadingsRejected(BaseModel):
    """422: nothing in the body could be stored (the error shape, with each reason)."""

    error: ReadingsRejectedDetail


class Annotation(BaseModel):
    """An action a town hall took, as recorded."""

    id: int
    competition: str
    site: str
    ts: str = Field(description="when it took effect, ISO-8601 UTC")
    text: str
    author: str = Field(description="the name of the organiser token that recorded it")


class StoredAnnotation(Annotation):
    ts_ms: int = Field(description="when it took effect [Unix ms]")


class AnnotationList(BaseModel):
    annotations: list[StoredAnnotation]


class AnnotationDeleted(BaseModel):
    deleted: int = Field(description="the id of the annotation deleted")


class QuarantineEntry(BaseModel):
    id: int
    received: str = Field(description="when it arrived, ISO-8601 UTC")
    source: str = Field(description="where it came from (mqtt, http:<token name>, import)")
    topic: str
    reason: str = Field(description="quarantine reason code")
    detail: str
    payload: str = Field(description="the message as received (see payload_encoding)")
    payload_encoding: str = Field(description="utf-8, or base64 for binary payloads")
    payload_bytes: int | None = Field(description="its size [bytes]; null for old entries")
    payload_sha256: str | None = Field(description="SHA-256 (hex); null for old entries")
    payload_truncated: bool = Field(description="only part of the payload is kept")


class Quarantine(BaseModel):
    counts: dict[str, int] = Field(description="entries per reason")
    entries: list[QuarantineEntry] = Field(description="the latest entries, newest first")


class Reprocessed(BaseModel):
    reprocessed: int = Field(description="entries decoded and validated again")
    stored: int = Field(description="readings stored from them")
    duplicates: int = Field(description="readings already stored")
    quarantined_again: int = Field(description="messages quarantined anew")
    skipped: int = Field(description="entries with nothing to decode again")


class SiteChanges(BaseModel):
    """Only the fields that were given."""

    name: str | None = Field(None, description="town hall name")
    municipality: str | None = None
    area_m2: float | None = Field(None, description="heated floor area, Atemp [m²]")
    target_pct: float | None = Field(None, description="reduction target [%]")


class SiteEdited(BaseModel):
    competition: str
    site: str
    changed: SiteChanges = Field(description="the fields of the request")
    by: str = Field(description="the name of the organiser token")
    name: str
    municipality: str
    area_m2: float = Field(description="heated floor area, Atemp [m²], now")
    target_pct: float = Field(description="reduction target [%], now")


class SiteEdits(BaseModel):
    competition: str
    sites: dict[str, SiteChanges] = Field(description="site id → its stored edits, merged")
