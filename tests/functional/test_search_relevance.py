"""Relevance: a small labelled corpus and the results each query must
rank first. Names weigh more than tags, tags more than descriptions, those more than the
content type; all terms must match; the last term is a prefix."""

import pytest

from tests.support.schema_client import ALICE, SchemaClient
from tests.support.search import hits

# (name, content type, tags, description)
CORPUS: list[tuple[str, str, list[str], str]] = [
    ("Q3_Report-final.pdf", "application/pdf", ["finance"], "Third quarter results"),
    ("Q2 report.pdf", "application/pdf", ["finance"], "Second quarter results"),
    ("quarterly-plan.docx", "application/msword", ["planning"], "Plan for the next quarter"),
    (
        "budget 2024.xlsx",
        "application/vnd.ms-excel",
        ["finance", "budget"],
        "Yearly budget of the company",
    ),
    ("budget 2025.xlsx", "application/vnd.ms-excel", ["finance", "budget"], "Draft budget"),
    ("team photo.jpg", "image/jpeg", ["team", "party"], "Summer party at the lake"),
    ("lake house.png", "image/png", ["holiday"], "Our holiday house by the lake"),
    ("invoice-ACME-001.pdf", "application/pdf", ["invoice", "acme"], "Invoice for consulting"),
    (
        "invoice-ACME-002.pdf",
        "application/pdf",
        ["invoice", "acme"],
        "Invoice for hosting and support",
    ),
    ("invoice-Globex.pdf", "application/pdf", ["invoice", "globex"], "Invoice for hardware"),
    ("meeting notes.txt", "text/plain", ["meeting"], "Notes from the weekly sync"),
    ("standup notes.md", "text/markdown", ["meeting"], "Daily standup notes"),
    ("architecture.md", "text/markdown", ["design"], "System architecture overview"),
    ("api-design.md", "text/markdown", ["design", "api"], "GraphQL API design notes"),
    ("README.md", "text/markdown", [], "Project readme with setup instructions"),
    ("logo.svg", "image/svg+xml", ["brand"], "Company logo, vector"),
    ("brand guidelines.pdf", "application/pdf", ["brand"], "Colours, fonts and logo usage"),
    ("contract signed.pdf", "application/pdf", ["legal"], "Signed contract with ACME"),
    ("NDA template.docx", "application/msword", ["legal"], "Non-disclosure agreement"),
    ("tax return 2023.pdf", "application/pdf", ["tax"], "Tax return for 2023"),
    ("tax receipts.zip", "application/zip", ["tax"], "Receipts for the tax return"),
    ("holiday schedule.xlsx", "application/vnd.ms-excel", ["holiday", "hr"], "Who is away"),
    ("onboarding checklist.md", "text/markdown", ["hr"], "First week checklist"),
    ("salary bands.xlsx", "application/vnd.ms-excel", ["hr"], "Salary bands per level"),
    ("Café menu.pdf", "application/pdf", ["food"], "Lunch menu from the café"),
    ("recipe pancakes.txt", "text/plain", ["food"], "Grandma's pancake recipe"),
    ("roadmap 2025.pptx", "application/vnd.ms-powerpoint", ["planning"], "Product roadmap"),
    ("roadmap review.txt", "text/plain", ["meeting"], "Review of the roadmap with the whole team"),
    ("server-logs.tar.gz", "application/gzip", ["ops"], "Logs from the outage"),
    ("incident postmortem.md", "text/markdown", ["ops"], "Postmortem of the database outage"),
    ("database schema.sql", "application/sql", ["design", "database"], "Tables and indexes"),
    ("backup script.sh", "text/x-shellscript", ["ops", "database"], "Nightly database backup"),
    ("XMLParserNotes.txt", "text/plain", ["dev"], "Notes on parsing XML"),
    ("user-research.pdf", "application/pdf", ["research"], "Interviews with users"),
    ("survey results.csv", "text/csv", ["research"], "Raw survey answers"),
    ("press release.docx", "application/msword", ["marketing"], "Launch press release"),
    ("launch video.mp4", "video/mp4", ["marketing"], "Launch announcement video"),
    ("podcast episode 12.mp3", "audio/mpeg", ["marketing"], "Episode about our launch"),
    ("expense report march.pdf", "application/pdf", ["finance"], "Expenses in March"),
    ("report template.docx", "application/msword", ["templates"], "Blank report template"),
]

# query -> the names expected first, in order (only as many as listed are checked).
EXPECTED: list[tuple[str, list[str]]] = [
    ("q3 report pdf", ["Q3_Report-final.pdf"]),
    ("final", ["Q3_Report-final.pdf"]),
    ("quar", ["quarterly-plan.docx"]),  # name beats descriptions ("quarter")
    ("budget", ["budget 2025.xlsx", "budget 2024.xlsx"]),  # shorter description first
    ("budget 2025", ["budget 2025.xlsx"]),
    ("invoice acme", ["invoice-ACME-001.pdf", "invoice-ACME-002.pdf"]),
    ("invoice glob", ["invoice-Globex.pdf"]),
    ("lake", ["lake house.png", "team photo.jpg"]),  # name before description
    ("cafe", ["Café menu.pdf"]),  # accent-insensitive
    ("xml parser", ["XMLParserNotes.txt"]),  # camelCase split
    ("database outage", ["incident postmortem.md"]),
    ("roadmap", ["roadmap 2025.pptx", "roadmap review.txt"]),
    ("tax return", ["tax return 2023.pdf", "tax receipts.zip"]),
    ("logo", ["logo.svg", "brand guidelines.pdf"]),
    ("launch vid", ["launch video.mp4"]),
    ("notes meeting", ["meeting notes.txt", "standup notes.md"]),
]


async def _seed(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    for name, content_type, tags, description in CORPUS:
        await client.upload(
            ALICE, name=name, contentType=content_type, tags=tags, description=description
        )


@pytest.mark.parametrize(("query", "expected"), EXPECTED, ids=[q for q, _ in EXPECTED])
async def test_expected_top_results(query: str, expected: list[str]) -> None:
    client = SchemaClient()
    await _seed(client)
    found = await hits(client, ALICE, query, types=["FILE"])
    assert found[: len(expected)] == expected, found
