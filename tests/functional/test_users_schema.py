"""User queries and updateProfile, executed through the real schema."""

from domain.errors import InvalidTokenError
from domain.ids import to_global_id
from tests.support.schema_client import ADMIN, ALICE, BOB, SchemaClient

PROFILE = "id username displayName email groups createdAt"


async def test_me_returns_the_profile_created_from_the_token(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    result = await client.execute(f"{{ me {{ {PROFILE} }} }}", ALICE)
    assert result.errors == []
    me = result.data["me"]
    assert me["username"] == "alice"
    assert me["email"] == "alice@example.com"
    assert me["groups"] == []
    assert me["displayName"] is None
    assert me["createdAt"].startswith("2026-11-28T12:00:00")
    assert me["id"] == to_global_id("User", "u-alice")


async def test_anonymous_caller_gets_unauthenticated_and_no_data(client: SchemaClient) -> None:
    result = await client.execute("{ me { id } }")
    assert result.data is None
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.errors[0]["extensions"]["requestId"] == "req-test"


async def test_bad_token_error_says_nothing_about_why(client: SchemaClient) -> None:
    result = await client.execute("{ me { id } }", auth_error=InvalidTokenError())
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.errors[0]["message"] == "Invalid or expired token"


async def test_other_users_email_and_groups_are_hidden(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    await client.sign_in(BOB)
    alice_id = to_global_id("User", ALICE.user_id)
    query = "query($id: ID!) { user(id: $id) { username email groups } }"
    as_bob = await client.execute(query, BOB, {"id": alice_id})
    assert as_bob.data == {"user": {"username": "alice", "email": None, "groups": []}}


async def test_admin_sees_private_profile_fields(client: SchemaClient) -> None:
    await client.sign_in(BOB)
    await client.sign_in(ADMIN)
    query = "query($name: String!) { userByUsername(username: $name) { email } }"
    result = await client.execute(query, ADMIN, {"name": "BOB"})
    assert result.data == {"userByUsername": {"email": "bob@example.com"}}


async def test_node_resolves_a_user_and_unknown_ids_are_null(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    query = "query($id: ID!) { node(id: $id) { id ... on User { username } } }"
    found = await client.execute(query, ALICE, {"id": to_global_id("User", "u-alice")})
    assert found.data == {"node": {"id": to_global_id("User", "u-alice"), "username": "alice"}}
    missing = await client.execute(query, ALICE, {"id": to_global_id("User", "nobody")})
    assert missing.data == {"node": None}
    other_type = await client.execute(query, ALICE, {"id": to_global_id("File", "u-alice")})
    assert other_type.data == {"node": None}


async def test_malformed_id_is_bad_user_input(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    result = await client.execute('{ user(id: "%%%not-an-id") { id } }', ALICE)
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.data == {"user": None}


async def test_update_profile_sets_and_clears_display_name(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    mutation = "mutation($n: String) { updateProfile(displayName: $n) { displayName } }"
    set_result = await client.execute(mutation, ALICE, {"n": "  Alice   Liddell "})
    assert set_result.data == {"updateProfile": {"displayName": "Alice Liddell"}}
    seen_by_bob = await client.sign_in(BOB)
    query = '{ userByUsername(username: "alice") { displayName } }'
    assert (await client.execute(query, seen_by_bob)).data == {
        "userByUsername": {"displayName": "Alice Liddell"}
    }
    cleared = await client.execute(mutation, ALICE, {"n": None})
    assert cleared.data == {"updateProfile": {"displayName": None}}


async def test_update_profile_without_argument_changes_nothing(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    await client.execute('mutation { updateProfile(displayName: "Al") { id } }', ALICE)
    result = await client.execute("mutation { updateProfile { displayName } }", ALICE)
    assert result.data == {"updateProfile": {"displayName": "Al"}}


async def test_invalid_display_name_is_refused_and_nothing_changes(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    await client.execute('mutation { updateProfile(displayName: "Al") { id } }', ALICE)
    for bad in ["   ", "x" * 101, "bell\u0007"]:
        result = await client.execute(
            "mutation($n: String) { updateProfile(displayName: $n) { id } }", ALICE, {"n": bad}
        )
        assert result.codes == ["BAD_USER_INPUT"], bad
    me = await client.execute("{ me { displayName } }", ALICE)
    assert me.data == {"me": {"displayName": "Al"}}


async def test_groups_follow_the_token(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    promoted = await client.sign_in(
        type(ALICE)(user_id=ALICE.user_id, username="alice", email=ALICE.email, groups=("admin",))
    )
    result = await client.execute("{ me { groups } }", promoted)
    assert result.data == {"me": {"groups": ["admin"]}}


async def test_syntax_error_is_bad_user_input_with_request_id(client: SchemaClient) -> None:
    result = await client.execute("{ me { id ", ALICE)
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["requestId"] == "req-test"
