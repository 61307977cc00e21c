"""Data for the GraphQL fuzz run: a caller with READY and PENDING files, and another user
whose files are PUBLIC, PRIVATE, or shared with the caller, so generated queries reach the
real resolvers, permission checks and search postings instead of stopping at "not found"."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.file_client import FileClient, dev_idp_token

ME_ID = "query { me { id } }"
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"


@dataclass(frozen=True)
class Seeded:
    token: str  # the fuzzing caller's; never printed
    ids: tuple[str, ...]  # every file and user id the run may pick as an ID argument
    usernames: tuple[str, ...]


def seed(base_url: str) -> Seeded:
    caller, other = "fuzzer", "neighbour"
    token = dev_idp_token(base_url, caller)
    other_token = dev_idp_token(base_url, other)
    ids: list[str] = []
    with FileClient.over_http(base_url, token) as files:
        ids.append(files.data(ME_ID)["me"]["id"])
        ids.append(
            files.upload("Q3_Report-final.pdf", "application/pdf", b"%PDF q3", tags=["tax"])["id"]
        )
        ids.append(
            files.upload(
                "notes.txt", "text/plain", b"meeting notes", description="weekly sync notes"
            )["id"]
        )
        ids.append(files.create_upload("pending.bin", "application/octet-stream", 10).file_id)
    with FileClient.over_http(base_url, other_token) as files:
        ids.append(files.data(ME_ID)["me"]["id"])
        ids.append(
            files.upload("public-report.txt", "text/plain", b"open", visibility="PUBLIC")["id"]
        )
        private = files.upload("private-report.txt", "text/plain", b"closed", tags=["tax"])["id"]
        shared = files.upload("shared-report.txt", "text/plain", b"for fuzzer")["id"]
        files.data(SHARE, {"id": shared, "u": caller})
        ids += [private, shared]
    return Seeded(token=token, ids=tuple(ids), usernames=(caller, other))
