"""Uploaded bytes are kept only once completeUpload accepts them: everything else is left
to the store's lifecycle (S3 tag rule, local sweep), so abandoned uploads cost nothing."""

import pytest

from tests.support.schema_client import ALICE, SchemaClient

COMPLETE = "mutation($id: ID!) { completeUpload(id: $id) { status } }"


@pytest.mark.local_only(
    "reads the fake blob store's confirmed set; S3 tags: contract/test_blob_store.py"
)
async def test_completed_bytes_are_confirmed_and_abandoned_ones_are_not(
    client: SchemaClient,
) -> None:
    await client.sign_in(ALICE)
    kept = await client.create_upload(ALICE, b"kept bytes")
    client.send_bytes(kept["upload"], b"kept bytes")
    abandoned = await client.create_upload(ALICE, b"never completed")
    client.send_bytes(abandoned["upload"], b"never completed")

    result = await client.execute(COMPLETE, ALICE, {"id": kept["file"]["id"]})

    assert result.data == {"completeUpload": {"status": "READY"}}
    assert len(client.blobs.unconfirmed()) == 1
    assert len(client.blobs.objects) == 2
    (pending_key,) = client.blobs.unconfirmed()
    assert pending_key != next(iter(client.blobs.confirmed))
