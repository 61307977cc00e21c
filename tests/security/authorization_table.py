"""The authorization matrix (domain/access.py) as data: who may do what, on every GraphQL root
field, every object field and every REST route, for five roles. The table is the
documentation: docs/AUTHORIZATION.md is rendered from it (``render_markdown``) and
tests/security/test_authorization_matrix.py executes every cell against the real schema
and the real app.

The files every case runs against, all owned by ``owner``:

- PRIVATE: READY, PRIVATE, shared with nobody;
- PUBLIC: READY, PUBLIC, and also shared with ``sharee`` (so ``sharedWith`` has a list to hide);
- SHARED: READY, PRIVATE, shared with ``sharee``;
- PENDING: created and its bytes sent but not completed, PRIVATE, shared with ``sharee``;
- MULTIPART (made afresh by the multipart rows' probes): a PENDING multipart upload, PRIVATE,
  shared with ``sharee``, its one part sent by the owner.
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ANONYMOUS = "anonymous"  # no token
    OWNER = "owner"  # owns every file below; the profile the User rows read
    OTHER = "other"  # signed in, nothing shared with them
    SHAREE = "sharee"  # signed in; PUBLIC, SHARED and PENDING are shared with them
    ADMIN = "admin"  # signed in, group "admin"


ROLES: tuple[Role, ...] = tuple(Role)


class Case(StrEnum):
    PRIVATE = "PRIVATE file"
    PUBLIC = "PUBLIC file"
    SHARED = "PRIVATE file shared with sharee"
    PENDING = "PENDING file shared with sharee"
    PROFILE = "owner's profile"
    OWN = "the caller's own"
    CURSOR = "cursor made by another user"
    NONE = "no data"
    PAGED = "the owner's four files, one per page"
    MULTIPART = "PENDING multipart file shared with sharee"


FILE_CASES: tuple[Case, ...] = (Case.PRIVATE, Case.PUBLIC, Case.SHARED, Case.PENDING)


class Outcome(StrEnum):
    ALLOW = "ALLOW"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NULL = "NULL"
    EMPTY = "EMPTY"
    LISTED = "LISTED"
    HIDDEN = "HIDDEN"


LEGEND: dict[Outcome, str] = {
    Outcome.ALLOW: "answered in full: the value the owner sees, or the change is made",
    Outcome.UNAUTHENTICATED: "error `UNAUTHENTICATED`, no data",
    Outcome.FORBIDDEN: "error `FORBIDDEN` (the caller may read the file, not change it); "
    "nothing changed",
    Outcome.NOT_FOUND: "exactly what an id naming nothing gets: `null` for reads, error "
    "`NOT_FOUND` with the same message for mutations; nothing changed",
    Outcome.BAD_USER_INPUT: "error `BAD_USER_INPUT` (`Invalid cursor`; a share link for a "
    "PENDING file), no data; nothing changed",
    Outcome.NULL: "the field answers `null`",
    Outcome.EMPTY: "the field answers `[]`",
    Outcome.LISTED: "the file (or user) is among the edges or hits",
    Outcome.HIDDEN: "not among the edges or hits, and nothing hints that it exists",
}

A, U, F, NF, BAD = (
    Outcome.ALLOW,
    Outcome.UNAUTHENTICATED,
    Outcome.FORBIDDEN,
    Outcome.NOT_FOUND,
    Outcome.BAD_USER_INPUT,
)
NULL, EMPTY, L, H = Outcome.NULL, Outcome.EMPTY, Outcome.LISTED, Outcome.HIDDEN


@dataclass(frozen=True)
class Row:
    """One line of the matrix. ``surface`` is a schema coordinate (``Type.field``) or a
    label; ``covers`` the further coordinates the row's probe selects and checks; ``via`` the
    edge the value is reached through, when not the obvious one."""

    surface: str
    case: Case
    expected: dict[Role, Outcome]
    via: str = ""
    covers: tuple[str, ...] = ()
    note: str = ""

    @property
    def id(self) -> str:
        via = f" via {self.via}" if self.via else ""
        return f"{self.surface}{via} [{self.case.value}]"

    @property
    def coordinates(self) -> tuple[str, ...]:
        return ((self.surface,) if _is_coordinate(self.surface) else ()) + self.covers


def _roles(*outcomes: Outcome) -> dict[Role, Outcome]:
    assert len(outcomes) == len(ROLES)
    return dict(zip(ROLES, outcomes, strict=True))


# Per file: reading it, changing it, listing it among search hits. Anonymous first.
READ = {
    Case.PRIVATE: _roles(U, A, NF, NF, A),
    Case.PUBLIC: _roles(U, A, A, A, A),
    Case.SHARED: _roles(U, A, NF, A, A),
    Case.PENDING: _roles(U, A, NF, A, A),
}
CHANGE = {
    Case.PRIVATE: _roles(U, A, NF, NF, A),
    Case.PUBLIC: _roles(U, A, F, F, A),
    Case.SHARED: _roles(U, A, NF, F, A),
    Case.PENDING: _roles(U, A, NF, F, A),
}
SEARCH_HIT = {
    Case.PRIVATE: _roles(U, L, H, H, L),
    Case.PUBLIC: _roles(U, L, L, L, L),
    Case.SHARED: _roles(U, L, H, L, L),
    # Not searchable until completed, for anyone.
    Case.PENDING: _roles(U, H, H, H, H),
}
OWNERS_FILES = {  # User.files of the owner: what each viewer may read
    Case.PRIVATE: _roles(U, L, H, H, L),
    Case.PUBLIC: _roles(U, L, L, L, L),
    Case.SHARED: _roles(U, L, H, L, L),
    Case.PENDING: _roles(U, L, H, L, L),
}
SHARED_WITH_ME = {
    Case.PRIVATE: _roles(U, H, H, H, H),
    Case.PUBLIC: _roles(U, H, H, L, H),
    Case.SHARED: _roles(U, H, H, L, H),
    Case.PENDING: _roles(U, H, H, L, H),
}
SHARED_WITH = {
    Case.PRIVATE: _roles(U, A, NF, NF, A),
    Case.PUBLIC: _roles(U, A, EMPTY, EMPTY, A),
    Case.SHARED: _roles(U, A, NF, EMPTY, A),
    Case.PENDING: _roles(U, A, NF, EMPTY, A),
}
DOWNLOAD_URL = {
    Case.PRIVATE: _roles(U, A, NF, NF, A),
    Case.PUBLIC: _roles(U, A, A, A, A),
    Case.SHARED: _roles(U, A, NF, A, A),
    Case.PENDING: _roles(U, NULL, NF, NULL, NULL),
}
# Share links: made and revoked by whoever may change the file, of READY files only.
LINK_CREATE = CHANGE | {Case.PENDING: _roles(U, BAD, NF, F, BAD)}
LINK_REVOKE = {case: CHANGE[case] for case in (Case.PRIVATE, Case.PUBLIC, Case.SHARED)}
SHARE_LINKS = {
    Case.PRIVATE: _roles(U, A, NF, NF, A),
    Case.PUBLIC: _roles(U, A, EMPTY, EMPTY, A),
    Case.SHARED: _roles(U, A, NF, EMPTY, A),
    # No link can exist yet: the owner's and the admin's list is empty too.
    Case.PENDING: _roles(U, EMPTY, NF, EMPTY, EMPTY),
}
SHARE_LINK_FIELDS = (
    "ShareLink.id",
    "ShareLink.url",
    "ShareLink.expiresAt",
    "ShareLink.downloads",
    "ShareLink.maxDownloads",
    "ShareLink.createdAt",
)
# Multipart uploads: parts are asked for, completed and aborted by whoever may change the
# file; every other file is no multipart upload (BAD for those who may change it).
MULTIPART_CHANGE = _roles(U, A, NF, F, A)
NOT_MULTIPART = {case: CHANGE[case] | {Role.OWNER: BAD, Role.ADMIN: BAD} for case in FILE_CASES}
ABORT = NOT_MULTIPART | {Case.PENDING: CHANGE[Case.PENDING]}
UPLOADED_PARTS = _roles(U, A, NF, EMPTY, A)
NO_PARTS = {
    case: {role: EMPTY if outcome is A else outcome for role, outcome in READ[case].items()}
    for case in FILE_CASES
}
MULTIPART_CREATE_FIELDS = (
    "CreateUploadPayload.multipart",
    "MultipartTarget.partSize",
    "MultipartTarget.partCount",
    "MultipartTarget.expiresAt",
    "MultipartTarget.partChecksums",
)
UPLOAD_PART_FIELDS = (
    "UploadPart.partNumber",
    "UploadPart.url",
    "UploadPart.method",
    "UploadPart.headers",
)
# Subscription.fileEvents without a fileId: own files, files shared with the caller, admins all.
FOLLOWED = {
    Case.PRIVATE: _roles(U, L, H, H, L),
    Case.PUBLIC: _roles(U, L, H, L, L),
    Case.SHARED: _roles(U, L, H, L, L),
    Case.PENDING: _roles(U, L, H, L, L),
}
EVENT_FIELDS = (
    "FileEvent.kind",
    "FileEvent.fileId",
    "FileEvent.file",
    "FileEvent.version",
    "FileEvent.at",
)
SIGNED_IN = _roles(U, A, A, A, A)
MY_FILES = {case: _roles(U, L, H, H, H) for case in FILE_CASES}
PRIVATE_TO_OTHERS = _roles(U, A, NULL, NULL, A)
CURSOR_REPLAY = _roles(U, A, BAD, BAD, BAD)

PLAIN_FILE_FIELDS = (
    "File.id",
    "File.name",
    "File.contentType",
    "File.size",
    "File.sha256",
    "File.status",
    "File.visibility",
    "File.description",
    "File.tags",
    "File.version",
    "File.createdAt",
    "File.updatedAt",
)
PUBLIC_PROFILE_FIELDS = ("User.id", "User.username", "User.displayName", "User.createdAt")
CONNECTION_FIELDS = (
    "FileConnection.edges",
    "FileConnection.pageInfo",
    "FileEdge.cursor",
    "FileEdge.node",
    "PageInfo.hasNextPage",
    "PageInfo.endCursor",
    "PageInfo.startCursor",
    "PageInfo.hasPreviousPage",
)
SEARCH_FIELDS = (
    "SearchConnection.edges",
    "SearchConnection.pageInfo",
    "SearchEdge.cursor",
    "SearchEdge.score",
    "SearchEdge.highlights",
    "SearchEdge.node",
)
UPLOAD_FIELDS = (
    "CreateUploadPayload.file",
    "CreateUploadPayload.upload",
    "UploadTarget.url",
    "UploadTarget.method",
    "UploadTarget.fields",
    "UploadTarget.headers",
    "UploadTarget.expiresAt",
)


def _per_file(
    surface: str,
    outcomes: dict[Case, dict[Role, Outcome]],
    *,
    via: str = "",
    covers: tuple[str, ...] = (),
    note: str = "",
) -> list[Row]:
    return [
        Row(surface, case, outcomes[case], via=via, covers=covers, note=note) for case in FILE_CASES
    ]


ROWS: tuple[Row, ...] = (
    # --- Query ---
    Row(
        "Query.me",
        Case.OWN,
        SIGNED_IN,
        covers=("User.email", "User.groups"),
        note="the caller's own profile, private fields included",
    ),
    Row(
        "Query.user",
        Case.PROFILE,
        SIGNED_IN,
        covers=PUBLIC_PROFILE_FIELDS,
        note="every signed-in user may read every profile's public fields",
    ),
    Row("Query.userByUsername", Case.PROFILE, SIGNED_IN, covers=PUBLIC_PROFILE_FIELDS),
    Row("Query.node", Case.PROFILE, SIGNED_IN),
    *_per_file("Query.node", READ),
    *_per_file("Query.file", READ),
    *_per_file(
        "Query.myFiles",
        MY_FILES,
        covers=CONNECTION_FIELDS,
        note="each caller lists only their own files, admins too",
    ),
    *_per_file("Query.sharedWithMe", SHARED_WITH_ME, covers=CONNECTION_FIELDS),
    *_per_file("Query.search", SEARCH_HIT, via="a FILE hit", covers=SEARCH_FIELDS),
    Row(
        "Query.search", Case.PROFILE, _roles(U, L, L, L, L), via="a USER hit", covers=SEARCH_FIELDS
    ),
    # Cursors are signed for the listing, the viewer and the filter.
    Row(
        "Query.myFiles", Case.CURSOR, CURSOR_REPLAY, via="the after: argument", note="made by owner"
    ),
    Row(
        "Query.sharedWithMe",
        Case.CURSOR,
        _roles(U, BAD, BAD, A, BAD),
        via="the after: argument",
        note="made by sharee",
    ),
    Row(
        "User.files",
        Case.CURSOR,
        CURSOR_REPLAY,
        via="the after: argument",
        note="made by owner on the owner's User.files",
    ),
    Row(
        "Query.myFiles",
        Case.CURSOR,
        CURSOR_REPLAY,
        via="the before: argument",
        note="made by owner, paging backward",
    ),
    Row(
        "Query.sharedWithMe",
        Case.CURSOR,
        _roles(U, BAD, BAD, A, BAD),
        via="the before: argument",
        note="made by sharee, paging backward",
    ),
    Row(
        "User.files",
        Case.CURSOR,
        CURSOR_REPLAY,
        via="the before: argument",
        note="made by owner on the owner's User.files, paging backward",
    ),
    Row(
        "Query.search", Case.CURSOR, CURSOR_REPLAY, via="the after: argument", note="made by owner"
    ),
    # A page must not hint at what follows it unless the viewer may read that.
    Row(
        "PageInfo.hasNextPage",
        Case.PAGED,
        SIGNED_IN,
        via="User.files(first: 1)",
        covers=("PageInfo.endCursor",),
        note="ALLOW: the pages hold exactly the files the caller may read, and the last of "
        "them says hasNextPage false, even when an unreadable file follows the last "
        "readable one (the listing looks one readable record ahead)",
    ),
    Row(
        "PageInfo.hasPreviousPage",
        Case.PAGED,
        SIGNED_IN,
        via="User.files(last: 1)",
        covers=("PageInfo.startCursor",),
        note="ALLOW: paging backward from the end, the pages hold exactly the files the "
        "caller may read, and the first of them says hasPreviousPage false",
    ),
    # --- Mutation ---
    Row(
        "Mutation.createUpload",
        Case.OWN,
        SIGNED_IN,
        covers=UPLOAD_FIELDS,
        note="a PENDING file owned by the caller",
    ),
    Row(
        "Mutation.createUpload",
        Case.OWN,
        SIGNED_IN,
        via="multipart: true",
        covers=MULTIPART_CREATE_FIELDS,
        note="a PENDING multipart upload owned by the caller",
    ),
    *_per_file("Mutation.completeUpload", CHANGE),
    Row(
        "Mutation.completeUpload",
        Case.MULTIPART,
        MULTIPART_CHANGE,
        via="parts",
        note="ALLOW: the file is READY with the bytes of its parts",
    ),
    Row(
        "Mutation.uploadParts",
        Case.MULTIPART,
        MULTIPART_CHANGE,
        covers=UPLOAD_PART_FIELDS,
        note="ALLOW: a target the store takes the part through",
    ),
    *_per_file("Mutation.uploadParts", NOT_MULTIPART, note="BAD: no multipart upload"),
    Row(
        "Mutation.abortUpload",
        Case.MULTIPART,
        MULTIPART_CHANGE,
        note="ALLOW: the file and its parts are gone",
    ),
    *_per_file("Mutation.abortUpload", ABORT, note="BAD: a READY file is deleted, not aborted"),
    *_per_file("Mutation.updateFile", CHANGE),
    *_per_file("Mutation.deleteFile", CHANGE),
    *_per_file("Mutation.shareFile", CHANGE, note="with other's username"),
    *_per_file("Mutation.unshareFile", CHANGE, note="with sharee's username"),
    *_per_file(
        "Mutation.createShareLink",
        LINK_CREATE,
        covers=SHARE_LINK_FIELDS,
        note="ALLOW: the link's URL serves the bytes to anyone",
    ),
    *[
        Row(
            "Mutation.revokeShareLink",
            case,
            outcomes,
            note="a link the owner made; ALLOW: it stops working",
        )
        for case, outcomes in LINK_REVOKE.items()
    ],
    Row(
        "Mutation.updateProfile",
        Case.OWN,
        SIGNED_IN,
        note="changes the caller's own display name only",
    ),
    Row(
        "Mutation.signOutEverywhere",
        Case.OWN,
        SIGNED_IN,
        note="voids the caller's own tokens only; nothing takes another user's id",
    ),
    Row(
        "Mutation.deleteAccount",
        Case.OWN,
        SIGNED_IN,
        note="confirm: the caller's username; the caller's account and everything it had go",
    ),
    Row(
        "Mutation.deleteAccount",
        Case.PROFILE,
        _roles(U, A, F, F, A),
        note="userId: the owner's, confirm: the owner's username; refused ones change nothing",
    ),
    Row(
        "Mutation.exportMyData",
        Case.OWN,
        SIGNED_IN,
        covers=("DataExport.id", "DataExport.status", "DataExport.url", "DataExport.expiresAt"),
        note="ALLOW: an archive of the caller's own READY files only; takes no id",
    ),
    Row(
        "Query.dataExport",
        Case.OWN,
        SIGNED_IN,
        note="the id exportMyData gave the caller; ALLOW: its status and URL",
    ),
    Row(
        "Query.dataExport",
        Case.PROFILE,
        _roles(U, A, NF, NF, NF),
        note="the owner's export id: only the owner's own export is ever read, admins included",
    ),
    # --- File fields (reached through Query.file) ---
    *_per_file(
        "File (plain fields)", READ, covers=PLAIN_FILE_FIELDS, note="equal to what the owner sees"
    ),
    *_per_file("File.owner", READ),
    *_per_file(
        "File.sharedWith", SHARED_WITH, note="owner and admins see the list; readers see []"
    ),
    *_per_file("File.downloadUrl", DOWNLOAD_URL, note="ALLOW: a URL serving the file's bytes"),
    *_per_file(
        "File.shareLinks",
        SHARE_LINKS,
        covers=SHARE_LINK_FIELDS,
        note="after the owner made a link (READY files); owner and admins see the list",
    ),
    Row(
        "File.uploadedParts",
        Case.MULTIPART,
        UPLOADED_PARTS,
        note="ALLOW: [1]; readers who may not complete it see []",
    ),
    *_per_file("File.uploadedParts", NO_PARTS, note="no multipart upload: [] for every reader"),
    # --- User fields ---
    Row("User.email", Case.PROFILE, PRIVATE_TO_OTHERS, via="Query.user"),
    Row("User.groups", Case.PROFILE, _roles(U, A, EMPTY, EMPTY, A), via="Query.user"),
    Row("User.email", Case.PROFILE, PRIVATE_TO_OTHERS, via="Query.node"),
    Row("User.email", Case.PUBLIC, PRIVATE_TO_OTHERS, via="File.owner"),
    Row("User.email", Case.PROFILE, PRIVATE_TO_OTHERS, via="a search USER hit"),
    Row(
        "User.email",
        Case.SHARED,
        _roles(U, NULL, NF, H, A),
        via="File.sharedWith",
        note="sharee's email: not even the owner sees it",
    ),
    *_per_file("User.files", OWNERS_FILES, via="the owner's profile", covers=CONNECTION_FIELDS),
    # --- Subscription (the owner changes the file while the caller listens) ---
    *_per_file(
        "Subscription.fileEvents",
        READ,
        via="fileId: the file",
        covers=EVENT_FIELDS,
        note="ALLOW: the UPDATED event with the file; NOT_FOUND: refused before it starts",
    ),
    *_per_file(
        "Subscription.fileEvents",
        FOLLOWED,
        via="no fileId",
        covers=EVENT_FIELDS,
        note="own and shared files (admins: all); others' PUBLIC files only by fileId",
    ),
)


def _is_coordinate(surface: str) -> bool:
    type_name, dot, field_name = surface.partition(".")
    return bool(dot) and type_name.isidentifier() and field_name.isidentifier()


# --- REST (api/rest.py): the same rules, as HTTP statuses ---

REST_STATUS: dict[Outcome, str] = {
    U: "401",
    A: "200",
    F: "403",
    NF: "404",
    BAD: "400",
    L: "200 listed",
    H: "200 not listed",
}
PRIVATE_FIELDS_HIDDEN = "200 private fields hidden"


@dataclass(frozen=True)
class RestRow:
    route: str  # "METHOD /path"
    case: Case
    expected: dict[Role, str]
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.route} [{self.case.value}]"


def _statuses(
    outcomes: dict[Role, Outcome], replace: dict[Outcome, str] | None = None
) -> dict[Role, str]:
    table = REST_STATUS | (replace or {})
    return {role: table[outcome] for role, outcome in outcomes.items()}


def _rest_per_file(
    route: str, outcomes: dict[Case, dict[Role, str]], note: str = ""
) -> list[RestRow]:
    return [RestRow(route, case, outcomes[case], note=note) for case in FILE_CASES]


_DOWNLOAD_READY = {A: "302"}
REST_ROWS: tuple[RestRow, ...] = (
    RestRow(
        "GET /rest/openapi.json",
        Case.NONE,
        dict.fromkeys(ROLES, "200"),
        note="the description of the API is public",
    ),
    RestRow("GET /rest/me", Case.OWN, _statuses(SIGNED_IN)),
    RestRow(
        "GET /rest/users/{id}",
        Case.PROFILE,
        _statuses(SIGNED_IN)
        | {Role.OTHER: PRIVATE_FIELDS_HIDDEN, Role.SHAREE: PRIVATE_FIELDS_HIDDEN},
        note="private fields: email and groups",
    ),
    *_rest_per_file(
        "GET /rest/files",
        {c: _statuses(MY_FILES[c]) for c in FILE_CASES},
        note="the caller's own files",
    ),
    RestRow(
        "GET /rest/files?after=", Case.CURSOR, _statuses(CURSOR_REPLAY), note="cursor made by owner"
    ),
    RestRow(
        "GET /rest/files?before=",
        Case.CURSOR,
        _statuses(CURSOR_REPLAY),
        note="cursor made by owner, paging backward",
    ),
    RestRow("POST /rest/files", Case.OWN, _statuses(SIGNED_IN, {A: "201"})),
    *_rest_per_file("GET /rest/files/{id}", {c: _statuses(READ[c]) for c in FILE_CASES}),
    *_rest_per_file("PATCH /rest/files/{id}", {c: _statuses(CHANGE[c]) for c in FILE_CASES}),
    *_rest_per_file(
        "DELETE /rest/files/{id}", {c: _statuses(CHANGE[c], {A: "204"}) for c in FILE_CASES}
    ),
    *_rest_per_file(
        "POST /rest/files/{id}/complete", {c: _statuses(CHANGE[c]) for c in FILE_CASES}
    ),
    *_rest_per_file(
        "GET /rest/files/{id}/download",
        {c: _statuses(READ[c], {A: "302" if c is not Case.PENDING else "409"}) for c in FILE_CASES},
        note="302 to a URL serving the bytes; 409 while PENDING",
    ),
    *_rest_per_file("GET /rest/search?q=", {c: _statuses(SEARCH_HIT[c]) for c in FILE_CASES}),
    RestRow(
        "POST /rest/files/{id}/parts",
        Case.MULTIPART,
        _statuses(MULTIPART_CHANGE),
        note="200: targets the store takes the parts through",
    ),
    *_rest_per_file(
        "POST /rest/files/{id}/parts", {c: _statuses(NOT_MULTIPART[c]) for c in FILE_CASES}
    ),
    RestRow(
        "GET /rest/files/{id}/parts",
        Case.MULTIPART,
        _statuses(UPLOADED_PARTS, {EMPTY: "200 empty"}),
        note="the part numbers the store holds",
    ),
    *_rest_per_file(
        "GET /rest/files/{id}/parts",
        {c: _statuses(NO_PARTS[c], {EMPTY: "200 empty"}) for c in FILE_CASES},
    ),
    RestRow(
        "POST /rest/files/{id}/abort",
        Case.MULTIPART,
        _statuses(MULTIPART_CHANGE, {A: "204"}),
        note="204: the file and its parts are gone",
    ),
    *_rest_per_file(
        "POST /rest/files/{id}/abort", {c: _statuses(ABORT[c], {A: "204"}) for c in FILE_CASES}
    ),
    *_rest_per_file(
        "POST /rest/files/{id}/share-links",
        {c: _statuses(LINK_CREATE[c], {A: "201"}) for c in FILE_CASES},
        note="201: a link whose URL serves the bytes to anyone",
    ),
    *_rest_per_file(
        "GET /rest/files/{id}/share-links",
        {c: _statuses(SHARE_LINKS[c], {EMPTY: "200 empty"}) for c in FILE_CASES},
        note="after the owner made a link (READY files)",
    ),
    *[
        RestRow(
            "DELETE /rest/share-links/{id}",
            case,
            _statuses(outcomes, {A: "204"}),
            note="a link the owner made; 204: it stops working",
        )
        for case, outcomes in LINK_REVOKE.items()
    ],
)


# --- the documentation ---

_INTRO = """# Authorization matrix

Who may do what (the rules: `domain/access.py`), for every GraphQL root field, every object
field whose value depends on the viewer, and every REST route. Generated from
`tests/security/authorization_table.py` by `render_markdown()`; every cell is executed by
`tests/security/test_authorization_matrix.py` on both backends (GraphQL: the real schema
in-process over the in-memory stores, and over DynamoDB + S3 on moto's server; REST: the whole
app in-process over SQLite and a blob folder with the development sign-in's tokens, and over
DynamoDB + S3 with Cognito's tokens), and a test fails when the schema gains a field this table
does not list. Every cell has the same outcome on both backends.

One difference between them is outside the table: the `/auth` routes (sign-up, sign-in,
sign-out everywhere, password, JWKS) belong to the local development sign-in. In Cognito mode
Cognito serves those, and the app answers 404 under `/auth`
(`tests/security/test_error_masking.py`, `test_cognito_mode_serves_no_auth_routes`).

Roles: **anonymous** (no token), **owner** (owns every file below), **other** (a signed-in
user nothing is shared with), **sharee** (the PUBLIC, SHARED and PENDING files are shared with
them), **admin** (group `admin`).

Files, all the owner's: **PRIVATE** (not shared), **PUBLIC** (also shared with sharee),
**SHARED** (PRIVATE, shared with sharee), **PENDING** (bytes sent, not completed; PRIVATE,
shared with sharee). The multipart rows make a **PENDING multipart** file for each cell: the
owner opens a multipart upload, shares it with sharee and sends its one part.
"""


def _cells(values: list[str]) -> str:
    return "| " + " | ".join(values) + " |"


def render_markdown() -> str:
    role_names = [role.value for role in ROLES]
    lines = [_INTRO, "## Outcomes", ""]
    lines += [f"- **{outcome.value}**: {meaning}" for outcome, meaning in LEGEND.items()]
    lines += ["", "## GraphQL", ""]
    lines.append(_cells(["surface", "case", *role_names, "also checks", "note"]))
    lines.append(_cells(["---"] * (len(ROLES) + 4)))
    previous: Row | None = None
    for row in ROWS:
        surface = f"`{row.surface}`" + (f" via {row.via}" if row.via else "")
        # Said once per run of rows of the same surface: repeated, it would drown the table.
        same = previous is not None and (previous.surface, previous.via, previous.covers) == (
            row.surface,
            row.via,
            row.covers,
        )
        covers = "″" if same and row.covers else ", ".join(f"`{c}`" for c in row.covers)
        previous = row
        outcomes = [row.expected[role].value for role in ROLES]
        lines.append(_cells([surface, row.case.value, *outcomes, covers, row.note]))
    lines += ["", "## REST", ""]
    lines.append(_cells(["route", "case", *role_names, "note"]))
    lines.append(_cells(["---"] * (len(ROLES) + 3)))
    for rest in REST_ROWS:
        statuses = [rest.expected[role] for role in ROLES]
        lines.append(_cells([f"`{rest.route}`", rest.case.value, *statuses, rest.note]))
    return "\n".join(lines) + "\n"
