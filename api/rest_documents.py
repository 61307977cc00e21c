"""The named GraphQL documents the REST shim runs (api/rest.py): one per route, against the
same schema the /graphql endpoint serves. The shim only reshapes their answers."""

_USER_REF = "fragment RestUserRef on User { id username displayName }"
_USER = "fragment RestUser on User { id username displayName email groups createdAt }"
_FILE = """
fragment RestFile on File {
  id name contentType size sha256 status visibility description tags version
  createdAt updatedAt
  owner { ...RestUserRef }
  sharedWith { ...RestUserRef }
}"""
_PAGE_INFO = "pageInfo { hasNextPage endCursor hasPreviousPage startCursor }"

ME = f"query RestMe {{ me {{ ...RestUser }} }}\n{_USER}"
USER = f"query RestUser($id: ID!) {{ user(id: $id) {{ ...RestUser }} }}\n{_USER}"
MY_FILES = f"""
query RestMyFiles($first: Int, $after: String, $last: Int, $before: String) {{
  myFiles(first: $first, after: $after, last: $last, before: $before) {{
    edges {{ node {{ ...RestFile }} }} {_PAGE_INFO}
  }}
}}
{_FILE}
{_USER_REF}"""
CREATE_UPLOAD = f"""
mutation RestCreateUpload($input: CreateUploadInput!) {{
  createUpload(input: $input) {{
    file {{ ...RestFile }}
    upload {{ url method fields headers expiresAt }}
    multipart {{ partSize partCount expiresAt partChecksums }}
  }}
}}
{_FILE}
{_USER_REF}"""
FILE = f"query RestFile($id: ID!) {{ file(id: $id) {{ ...RestFile }} }}\n{_FILE}\n{_USER_REF}"
UPDATE_FILE = f"""
mutation RestUpdateFile($input: UpdateFileInput!) {{ updateFile(input: $input) {{ ...RestFile }} }}
{_FILE}
{_USER_REF}"""
DELETE_FILE = """
mutation RestDeleteFile($id: ID!, $expectedVersion: Int) {
  deleteFile(id: $id, expectedVersion: $expectedVersion)
}"""
COMPLETE_UPLOAD = f"""
mutation RestCompleteUpload($id: ID!, $parts: [CompletedPart!]) {{
  completeUpload(id: $id, parts: $parts) {{ ...RestFile }}
}}
{_FILE}
{_USER_REF}"""
UPLOAD_PARTS = """
mutation RestUploadParts($id: ID!, $partNumbers: [Int!]!, $sha256: [String!]) {
  uploadParts(id: $id, partNumbers: $partNumbers, sha256: $sha256) {
    partNumber url method headers
  }
}"""
UPLOADED_PARTS = "query RestUploadedParts($id: ID!) { file(id: $id) { uploadedParts } }"
ABORT_UPLOAD = "mutation RestAbortUpload($id: ID!) { abortUpload(id: $id) }"
# Asked afresh on every download: the permission check and a new short-lived URL.
DOWNLOAD = """
query RestDownload($id: ID!, $expiresIn: Int) {
  file(id: $id) { status downloadUrl(expiresIn: $expiresIn) }
}"""
SEARCH = f"""
query RestSearch($query: String!, $types: [SearchType!], $first: Int, $after: String) {{
  search(query: $query, types: $types, first: $first, after: $after) {{
    edges {{
      score highlights
      node {{ __typename ...RestFile ...RestUser }}
    }}
    {_PAGE_INFO}
  }}
}}
{_FILE}
{_USER_REF}
{_USER}"""
_SHARE_LINK = (
    "fragment RestShareLink on ShareLink { id url expiresAt downloads maxDownloads createdAt }"
)
CREATE_SHARE_LINK = f"""
mutation RestCreateShareLink($fileId: ID!, $expiresIn: Int, $maxDownloads: Int) {{
  createShareLink(fileId: $fileId, expiresIn: $expiresIn, maxDownloads: $maxDownloads) {{
    ...RestShareLink
  }}
}}
{_SHARE_LINK}"""
SHARE_LINKS = f"""
query RestShareLinks($id: ID!) {{ file(id: $id) {{ shareLinks {{ ...RestShareLink }} }} }}
{_SHARE_LINK}"""
REVOKE_SHARE_LINK = """
mutation RestRevokeShareLink($id: ID!) { revokeShareLink(id: $id) }"""
