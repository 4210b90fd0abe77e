"""Response models of the post-mortem API (`warroom/postmortems/api.py`): post-mortems, review
meetings, action items and trackers, exports, similar incidents and patterns."""

from __future__ import annotations

from pydantic import Field

from warroom.api.models import ApiModel, IsoTime, JsonObject, Number


class PostmortemSummary(ApiModel):
    """A post-mortem in a list (without its Markdown body)."""

    incident: str
    title: str
    severity: str
    services: list[str]
    status: str = Field(examples=["draft", "in_review", "published"])
    requirement: str
    owner: str | None
    owner_name: str | None = Field(default=None, description="the owner's display name")
    due_at: IsoTime | None
    overdue: bool
    due_soon: bool | None = Field(default=None, description="not published and due soon")
    root_cause_category: str | None
    version: int
    reviewers: list[str]
    created_at: IsoTime | None
    updated_at: IsoTime | None
    submitted_at: IsoTime | None
    published_at: IsoTime | None
    resolved_at: IsoTime | None
    warnings: list[str] | None = Field(
        default=None, description="blameful phrases found in the text (not in lists)"
    )


class Postmortem(PostmortemSummary):
    body: str = Field(description="the Markdown source")
    warnings: list[str] = Field(description="blameful phrases found in the text")


class PostmortemList(ApiModel):
    items: list[PostmortemSummary]


class ReviewMeeting(ApiModel):
    incident: str
    starts_at: IsoTime
    duration_seconds: Number
    facilitator: str | None
    attendees: list[str]
    location: str | None
    sequence: int
    ics: str = Field(description="the iCalendar invite")


class ExportFile(ApiModel):
    incident: str
    markdown_name: str
    html_name: str
    markdown: str
    html: str


class ExportIndex(ApiModel):
    markdown_name: str
    markdown: str
    html_name: str
    html: str


class PostmortemExport(ApiModel):
    files: list[ExportFile]
    index: ExportIndex


class TrackerLink(ApiModel):
    """Where an action item lives in a tracker (Jira, GitHub), and the last sync's outcome."""

    key: str | None = None
    number: int | None = None
    ref: str | None = None
    url: str | None = None
    labels: list[str] | None = None
    transitioned: bool | None = None
    no_duedate: bool | None = None
    synced_at: IsoTime | None = None
    error: str | None = None
    failed_at: IsoTime | None = None


class ActionItem(ApiModel):
    id: int
    incident: str
    title: str
    description: str
    owner: str | None
    due_at: IsoTime | None
    priority: int
    type: str
    status: str = Field(examples=["open", "in_progress", "done", "wont_do"])
    overdue: bool
    due_soon: bool = Field(description="open and due within the policy's warning time")
    source: str
    external: dict[str, TrackerLink] = Field(description="tracker -> its link")
    version: int
    created_at: IsoTime | None
    updated_at: IsoTime | None
    done_at: IsoTime | None


class ActionItemList(ApiModel):
    items: list[ActionItem]


class SyncResult(ApiModel):
    ok: bool
    message: str
    retryable: bool
    ref: str | None
    url: str | None


class ActionItemSync(ApiModel):
    item: ActionItem
    results: dict[str, SyncResult] = Field(description="tracker -> what the sync did")


class BeadsDependency(ApiModel):
    issue_id: str
    depends_on_id: str
    type: str
    created_at: IsoTime
    created_by: str


class BeadsIssue(ApiModel):
    id: str
    title: str
    description: str
    status: str
    priority: int
    issue_type: str
    created_at: IsoTime
    updated_at: IsoTime
    external_ref: str
    labels: list[str]
    assignee: str | None = None
    closed_at: IsoTime | None = None
    close_reason: str | None = None
    dependencies: list[BeadsDependency] | None = None


class BeadsExport(ApiModel):
    path: str = Field(description="where beads keeps the issues")
    issues: list[BeadsIssue]


class SimilarActionItem(ApiModel):
    id: int
    title: str
    status: str
    owner: str | None
    done: bool


class SimilarPostmortem(ApiModel):
    status: str
    root_cause_category: str | None


class SimilarIncident(ApiModel):
    incident: str
    title: str
    severity: str
    status: str
    declared_at: IsoTime
    resolved_at: IsoTime | None
    score: Number
    reasons: list[str]
    postmortem: SimilarPostmortem | None
    action_items: list[SimilarActionItem]
    action_items_done: int


class SimilarToIncident(ApiModel):
    incident: str
    matches: list[SimilarIncident]


class SimilarMatches(ApiModel):
    matches: list[SimilarIncident]


class Pattern(ApiModel):
    service: str
    category: str
    count: int
    incidents: list[str]
    first_at: IsoTime
    last_at: IsoTime
    open_action_items: int


class Patterns(ApiModel):
    patterns: list[Pattern]
    document: str = Field(description="the critical-patterns document (Markdown)")


class DraftStep(ApiModel):
    id: str
    kind: str | None = None
    title: str | None = None
    automatic: bool | None = None


class DraftRunbook(ApiModel):
    """A runbook drafted from the incident's timeline (or extending the one sent)."""

    id: str
    title: str | None = None
    description: str | None = None
    match: JsonObject | None = None
    steps: list[DraftStep]


class RunbookDraft(ApiModel):
    runbook: DraftRunbook
    yaml: str
