"""Bodies of the audit log and the closing of a competition (``api.audit``, ``api.closing``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AuditEntry(BaseModel):
    id: int
    ts: str = Field(description="when, ISO-8601 UTC")
    who: str = Field(description="the organiser token's name, or serve")
    action: str = Field(
        description="config_loaded, method_changed, site_edit, annotation_added, "
        "annotation_deleted, held_accepted, held_rejected, competition_closed, …"
    )
    subject: str = Field(description="what it is about: a site, station:<id>, the competition")
    before: Any = Field(description="the state before (JSON), or null")
    after: Any = Field(description="the state after (JSON), or null")
    reason: str = Field(description="why, as the organiser gave it")
    prev_sha256: str = Field(description="SHA-256 of the previous entry (hash chain, hex)")


class AuditLog(BaseModel):
    competition: str
    chain_ok: bool = Field(description="the hash chain holds over the whole log")
    chain_problems: list[str] = Field(description="where it breaks, when it does")
    count: int = Field(description="entries in the whole log")
    head_sha256: str | None = Field(description="SHA-256 of the last entry (hex)")
    entries: list[AuditEntry] = Field(description="the entries asked for, in id order")


class ClosingState(BaseModel):
    """Whether the competition is closed; the rest only once it is."""

    competition: str
    closed: bool
    at: str | None = Field(None, description="when it was closed, local ISO-8601")
    as_of: str | None = Field(None, description="the time the frozen results are as of")
    bundle_sha256: str | None = Field(None, description="SHA-256 of the results bundle (hex)")
    manifest_sha256: str | None = Field(None, description="SHA-256 of MANIFEST.sha256 (hex)")
    bundle_url: str | None = Field(None, description="the bundle as a zip (organiser token)")


class ClosedNow(BaseModel):
    competition: str
    closed: bool = Field(description="true")
    at: str = Field(description="when it was closed, local ISO-8601")
    as_of: str | None = Field(description="the time the frozen results are as of")
    bundle_sha256: str = Field(description="SHA-256 of the results bundle (hex)")
    manifest_sha256: str = Field(description="SHA-256 of MANIFEST.sha256 (hex)")
    by: str = Field(description="the organiser token's name")
    audit_id: int = Field(description="the audit entry of the closing")
    files: list[str] = Field(description="the bundle's files")
    bundle_url: str = Field(description="the bundle as a zip (organiser token)")
