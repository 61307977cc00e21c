"""The operation's name as logged, its type and whether it selects search are remembered
for the last document: asking again about the same document object, by the same operation
name, gives the same answer; another name or another document is looked at afresh."""

from graphql import parse

from resolvers.extensions.metrics import _shape


def test_the_shape_is_per_document_and_operation_name() -> None:
    document = parse(
        'query Find { search(query: "a") { totalCount } } mutation Save { signOut }'
        " query Me { me { username } }"
    )
    for _ in range(2):  # the second round is answered from what was remembered
        assert _shape(document, "Find") == ("Find", "query", True)
        assert _shape(document, "Find") == ("Find", "query", True)
        assert _shape(document, "Save") == ("Save", "mutation", False)
        assert _shape(document, "Me") == ("Me", "query", False)
        assert _shape(document, None) == (None, None, False)  # several operations, none named
        assert _shape(document, "Missing") == ("Missing", None, False)
        assert _shape(document, "not a name!") == ("invalid", None, False)
    single = parse('{ search(query: "b") { totalCount } }')
    assert _shape(single, None) == (None, "query", True)
    assert _shape(parse("mutation { signOut }"), None) == (None, "mutation", False)
