"""The API's request and response bodies.

Bodies carry values to the service functions in control/, which hold every rule; these models only
check shapes (a text is a text, an instant an instant), so no rule is written twice. Texts may not hold
NUL or unpaired surrogates, which no database column can store. The secret access key is write-only:
it is in `DestinationIn` and in no response model.
"""

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from control.accounts import ROLES
from control.activity import STATUSES
from transforms.config import EXPORT_TYPES
from transforms.formats import FORMATS
from transforms.sinks.s3 import SSE_MODES
from transforms.sinks.preflight import DATA_REGIONS

__all__ = ["Text", "Instant", "DestinationIn", "DestinationPatch", "Destination", "ConnectionResult", "ExportIn",
           "Export", "Run", "BackfillIn", "RunPage", "ActivityEntry", "ActivityPage", "ManifestObject", "Finding",
           "Check", "VerifyResult", "Me", "RoleSetup", "User", "RoleIn", "PasswordIn", "PasswordChangeIn", "Token"]


def _storable(text):
    if "\x00" in text:
        raise ValueError("may not contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode (an unpaired surrogate)") from None
    return text


def _utc(moment):
    """An instant without an offset is UTC, as everywhere in eventexport."""
    try:
        return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 in UTC") from None


def _date_time_text(value):
    """Pydantic would read a number (`until=9`) as seconds since 1970; the schema says an RFC 3339
    date-time, so a number, or text that is only a number, is refused as the schema refuses it."""
    text = value if isinstance(value, str) else None
    if isinstance(value, (int, float)) or (text is not None and _NUMBER.fullmatch(text.strip())):
        raise ValueError("must be a date-time such as 2026-11-20T00:00:00Z, not a number")
    return value


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
Text = Annotated[str, AfterValidator(_storable)]
Instant = Annotated[dt.datetime, BeforeValidator(_date_time_text), AfterValidator(_utc)]


def _one_of(values):
    return f"one of {', '.join(values)}"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DestinationIn(_In):
    name: Text = Field(description="unique within the account, 1 to 100 characters")
    bucket: Text
    data_region: Text | None = Field(None, description=f"{_one_of(DATA_REGIONS)}; default: the account's")
    role_arn: Text | None = Field(None, description="an IAM role of yours we assume with your account's external id "
                                  "(GET /api/v1/me); instead of a key, and the recommended way")
    access_key_id: Text | None = Field(None, description="with secret_access_key, instead of role_arn")
    secret_access_key: Text | None = Field(None, description="write-only: stored encrypted, never returned",
                                           json_schema_extra={"writeOnly": True, "format": "password"})
    prefix: Text = ""
    endpoint_url: Text | None = Field(None, description="an S3-compatible endpoint (http:// or https://)")
    region: Text | None = Field(None, description="the bucket's region, if not the data region's")
    path_style: bool = False
    sse: Text = Field("none", description=_one_of(SSE_MODES))
    sse_kms_key_id: Text | None = Field(None, description="for sse aws:kms: your KMS key's ARN (passed on every put)")


class DestinationPatch(_In):
    """A saved destination's new settings: only the fields given change (control.destinations.EDITABLE)."""
    role_arn: Text = Field(None, description="a role to assume from now on, in place of the key or role before")
    access_key_id: Text = Field(None, description="a new key (rotation, or in place of a role): give its secret too")
    secret_access_key: Text = Field(None, description="write-only: stored encrypted, never returned",
                                    json_schema_extra={"writeOnly": True, "format": "password"})
    prefix: Text = None
    endpoint_url: Text | None = Field(None, description="an S3-compatible endpoint; null: AWS S3")
    region: Text | None = None
    path_style: bool = None
    sse: Text = Field(None, description=_one_of(SSE_MODES))
    sse_kms_key_id: Text | None = None


class Destination(BaseModel):
    name: str
    bucket: str
    prefix: str
    data_region: str
    region: str | None
    endpoint_url: str | None
    path_style: bool
    sse: str
    sse_kms_key_id: str | None
    role_arn: str | None = Field(description="the role we assume, or null for a key")
    created_at: str


class ConnectionResult(BaseModel):
    ok: bool = True
    bucket_region: str
    message: str


class ExportIn(_In):
    destination: Text
    export_type: Text = Field(description=_one_of(EXPORT_TYPES))
    format: Text = Field(description=_one_of(FORMATS))
    frequency: Text = Field(description="once or recurring")
    events: list[Text] = Field([], description="for export_type select_events: the event names")
    window_from: Instant | None = Field(None, description="once: start of the event-time range, within 60 days")
    window_to: Instant | None = Field(None, description="once: end of the range, not in the future")
    every: Text | int | None = Field(None, description="recurring: 4h to 24h (or a number of hours)")


class EstimateIn(_In):
    export_type: Text = Field(description=_one_of(EXPORT_TYPES))
    format: Text = Field(description=_one_of(FORMATS))
    frequency: Text = Field(description="once or recurring")
    events: list[Text] = Field([], description="for export_type select_events: the event names")
    window_from: Instant | None = Field(None, description="once: start of the event-time range")
    window_to: Instant | None = Field(None, description="once: end of the range")
    every: Text | int | None = Field(None, description="recurring: 4h to 24h (or a number of hours)")


class EventEstimate(BaseModel):
    event_name: str
    rows: int
    bytes: int = Field(description="compressed, as stored in the bucket")
    objects: int
    rows_error: float = Field(description="relative error bar of rows (0.01: within 1%)")
    bytes_error: float = Field(description="relative error bar of bytes, wider for names the sample held few of")


class Estimate(BaseModel):
    format: str
    window: dict = Field(description="start, end and time_basis of what was counted")
    per: str = Field(description="export (one-time) or run (recurring: one window of its interval)")
    rows: int
    bytes: int
    objects: int
    rows_error: float
    bytes_error: float
    events: list[EventEstimate]
    missing_events: list[str] = Field(description="selected event names the store has none of in the window")
    basis: dict = Field(description="files listed, counted from their Parquet footers and columns, scaled from "
                                    "a sample; rows sampled to learn bytes per row")


class Export(BaseModel):
    id: str
    destination: str
    export_type: str
    events: list[str]
    format: str
    frequency: str
    window_from: str | None
    window_to: str | None
    every_hours: int | None
    status: str = Field(description="active | paused | stopped | done")
    created_at: str
    failure_streak: int = Field(0, description="failed attempts in a row since its last Done run")
    paused_reason: str | None = Field(None, description="why it is paused (resume: POST .../resume)")
    paused_at: str | None = None


class Reconciliation(BaseModel):
    read: int = Field(description="records read from the store for the run's window (docs/contracts.md)")
    exported: int = Field(description="rows in the run's data objects")
    rejected: int = Field(description="records set aside in the rejects objects")
    rejected_by_reason: dict[str, int] = Field(description="rejected records per reason code")
    later: int = Field(description="records in the window captured at or after the capture ceiling, left to "
                                   "later runs")
    superseded: int = Field(description="older versions of a profile (profile exports; 0 for events): "
                                        "read = exported + rejected + later + superseded")


class Run(BaseModel):
    id: int
    request_id: str
    window_start: str
    window_end: str
    time_basis: str
    run_timestamp: str
    status: str = Field(description=_one_of(STATUSES))
    attempts: int
    next_attempt_at: str | None
    started_at: str | None
    finished_at: str | None
    objects: int | None
    rows: int | None
    rejected: int | None = Field(description="bad records set aside (in the run's rejects objects)")
    bytes: int | None
    error: str | None
    last_progress: str | None
    backfill: bool = Field(False, description="made by a backfill of past windows")
    stopped_by: str | None = Field(None, description="who cancelled the run (or stopped its export)")
    stopped_at: str | None = None
    reconciliation: Reconciliation | None = Field(None, description="a Done run's counts, which add up")


class BackfillIn(_In):
    from_: Instant = Field(alias="from", description="start of the first window: on the export's window grid, "
                                                      "within the last 60 days")
    to: Instant = Field(description="end of the last window: on the grid, not in the future")
    replace: bool = Field(False, description="export windows that ran already again, under the same keys")


class Day(BaseModel):
    date: str = Field(description="UTC day (YYYY-MM-DD) the runs' windows start on")
    runs: int = Field(description="Done runs whose window starts this day (0: a gap)")
    exported: int
    rejected: int
    later: int


class DailyCounts(BaseModel):
    request_id: str
    frequency: str
    days: list[Day] = Field(description="oldest first, every day from the first Done run's to the last's")


class _Page(BaseModel):
    total: int
    limit: int
    offset: int


class RunPage(_Page):
    items: list[Run]


class ActivityEntry(BaseModel):
    request_id: str
    run_id: int | None
    type: str
    frequency: str
    format: str
    destination: str
    events: list[str]
    window_start: str | None
    window_end: str | None
    status: str
    objects: int | None
    rows: int | None
    rejected: int | None
    read: int | None = Field(None, description="records read for the window: rows + rejected + later")
    later: int | None = Field(None, description="records captured at or after the ceiling, left to later runs")
    bytes: int | None
    started: str | None
    finished: str | None
    attempts: int
    error: str | None
    progress: str | None
    backfill: bool = Field(False, description="a run made by a backfill of past windows")


class ActivityPage(_Page):
    items: list[ActivityEntry]


class ManifestObject(BaseModel):
    key: str
    event_name: str
    date: str
    index: int
    rows: int
    bytes: int
    sha256: str
    etag: str | None = None
    etag_kind: str | None = Field(None, description="md5 | multipart | opaque (S3's own: SSE-KMS)")


class Finding(BaseModel):
    problem: str = Field(description="missing | size | etag | unlisted")
    key: str
    detail: str


class Check(BaseModel):
    key: str
    check: str = Field(description="what the listing showed to match the manifest: size and MD5; size and multipart "
                                   "ETag; or size alone (an SSE-KMS object's ETag is not an MD5)")


class VerifyResult(BaseModel):
    ok: bool = Field(description="every object of the manifest is listed with its size and, where it proves "
                                 "anything, its ETag")
    findings: list[Finding]
    checks: list[Check] = Field(description="each object found as the manifest records it, with its check")


class Me(BaseModel):
    email: str
    role: str = Field(description=_one_of(ROLES))
    account_id: str
    account_name: str
    data_region: str | None
    database_id: str
    external_id: str = Field(description="what your roles' trust policies require as sts:ExternalId; made by us")
    role_principal: str | None = Field(description="the AWS principal your roles' trust policies name")


class RoleSetup(BaseModel):
    trust_policy: dict
    permission_policy: dict
    cloudformation: dict = Field(description="a template that makes the role with both policies")


class User(BaseModel):
    email: str
    role: str = Field(description=_one_of(ROLES))
    created_at: str


class RoleIn(_In):
    role: Text = Field(description=_one_of(ROLES))


class PasswordIn(_In):
    password: Text = Field(description="at least 12 characters, not easy to guess",
                           json_schema_extra={"writeOnly": True, "format": "password"})


class PasswordChangeIn(_In):
    current_password: Text = Field(json_schema_extra={"writeOnly": True, "format": "password"})
    new_password: Text = Field(description="at least 12 characters, not easy to guess",
                               json_schema_extra={"writeOnly": True, "format": "password"})


class Token(BaseModel):
    id: int
    label: str
    created_at: str
    expires_at: str
