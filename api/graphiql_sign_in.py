"""The playground's sign-in form, for the local identity provider (``/auth/*``).

The form posts to ``/auth/signup`` and ``/auth/token`` on the page's own origin and keeps
the ID token in ``sessionStorage`` only: gone with the tab, never in the URL (GraphiQL
writes the query into the URL) and never in GraphiQL's header editor (which it persists to
``localStorage``). Every request GraphiQL sends gets ``Authorization: Bearer <token>``
unless its Headers tab sets one itself. The page shows who is signed in and until when
(the token's ``exp``), and a sign-out.
"""

import json
import posixpath
import re

SIGN_IN_ID = "demobackend-sign-in"
EXAMPLE_QUERY = (
    "{ me { username } myFiles(first: 5) { edges { node { name status downloadUrl } } } }"
)
SESSION_KEY = "demobackend.session"

_FORM = f"""<form id="{SIGN_IN_ID}" autocomplete="on">
      <span data-signed-out>
        <label>Username <input name="username" autocomplete="username" required></label>
        <label>Password <input name="password" type="password"
          autocomplete="current-password" required></label>
        <button type="submit" name="action" value="signin">Sign in</button>
        <button type="submit" name="action" value="signup">Sign up</button>
      </span>
      <span data-signed-in hidden>
        <output data-who></output>
        <button type="button" data-sign-out>Sign out</button>
      </span>
      <output data-error role="alert"></output>
    </form>"""

_STYLE = f"""
      #{SIGN_IN_ID} {{ display: flex; gap: 8px; align-items: center; padding: 2px 0; }}
      #{SIGN_IN_ID} input {{ width: 11em; }}
      #{SIGN_IN_ID} [data-error] {{ color: #a00; }}
    </style>"""

# Plain ES2017, no build step: the page loads nothing beyond the self-hosted assets.
_SCRIPT = """<script>
      const demobackendSession = (() => {
        const KEY = __SESSION_KEY__;
        const form = document.getElementById(__FORM_ID__);
        const field = (selector) => form.querySelector(selector);

        function claims(token) {
          const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
          return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
        }

        function current() {
          let session = null;
          try {
            session = JSON.parse(sessionStorage.getItem(KEY) || "null");
          } catch (error) {
            session = null;
          }
          if (session && session.expiresAt * 1000 <= Date.now()) {
            sessionStorage.removeItem(KEY);
            session = null;
          }
          return session;
        }

        function show(error) {
          const session = current();
          field("[data-signed-out]").hidden = Boolean(session);
          field("[data-signed-in]").hidden = !session;
          field("[data-error]").textContent = error || "";
          field("[data-who]").textContent = session
            ? "Signed in as " + session.username + " until " +
              new Date(session.expiresAt * 1000).toLocaleString()
            : "";
        }

        async function call(url, body) {
          const response = await fetch(url, {
            method: "POST",
            headers: { "Content-Type": "application/json", Accept: "application/json" },
            body: JSON.stringify(body),
          });
          const answer = await response.json().catch(() => ({}));
          if (!response.ok) {
            throw new Error((answer.error && answer.error.message) || response.statusText);
          }
          return answer;
        }

        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          const account = {
            username: form.elements.username.value,
            password: form.elements.password.value,
          };
          try {
            if (event.submitter && event.submitter.value === "signup") {
              await call(__SIGNUP_URL__, account);
            }
            const tokens = await call(__TOKEN_URL__, account);
            const payload = claims(tokens.idToken);
            sessionStorage.setItem(KEY, JSON.stringify({
              token: tokens.idToken,
              username: payload["cognito:username"] || account.username,
              expiresAt: payload.exp,
            }));
            form.elements.password.value = "";
            show();
          } catch (error) {
            show(error.message);
          }
        });

        field("[data-sign-out]").addEventListener("click", () => {
          sessionStorage.removeItem(KEY);
          show();
        });

        show();

        // GraphiQL's fetcher: the session's token, unless the Headers tab sets its own.
        function fetchWithSession(input, init) {
          const headers = new Headers((init && init.headers) || {});
          const session = current();
          if (session && !headers.has("Authorization")) {
            headers.set("Authorization", "Bearer " + session.token);
          }
          show();
          return fetch(input, Object.assign({}, init, { headers }));
        }

        return { fetch: fetchWithSession };
      })();
    </script>"""

_FETCHER = re.compile(r"GraphiQL\.createFetcher\(\{")
_EXAMPLE = re.compile(r"const EXAMPLE_QUERY = `[^`]*`;")
_GRAPHIQL_SCRIPT = re.compile(r"<script>(?=\s*const EXAMPLE_QUERY)")


class TemplateChangedError(RuntimeError):
    """Strawberry's GraphiQL template no longer has what the sign-in form hooks into."""


def _replace_once(pattern: re.Pattern[str], replacement: str, page: str) -> str:
    page, count = pattern.subn(lambda _: replacement, page)
    if count != 1:
        raise TemplateChangedError(f"expected one {pattern.pattern!r} in GraphiQL's page")
    return page


def _relative(target: str, graphql_path: str) -> str:
    # Page-relative, like the asset URLs: the app may sit under a prefix it never sees.
    return posixpath.relpath(target, start=posixpath.dirname(graphql_path) or "/")


def sign_in_form_html() -> str:
    return _FORM


def with_example_query(page: str) -> str:
    """The editor opens on a query that shows something, not GraphiQL's welcome text."""
    return _replace_once(_EXAMPLE, f"const EXAMPLE_QUERY = {json.dumps(EXAMPLE_QUERY)};", page)


def with_sign_in(page: str, graphql_path: str) -> str:
    """The page with the form's style and script, and GraphiQL fetching through it.

    The form itself goes into the page's notice (api.graphiql), above the editor."""
    script = (
        _SCRIPT.replace("__SESSION_KEY__", json.dumps(SESSION_KEY))
        .replace("__FORM_ID__", json.dumps(SIGN_IN_ID))
        .replace("__SIGNUP_URL__", json.dumps(_relative("/auth/signup", graphql_path)))
        .replace("__TOKEN_URL__", json.dumps(_relative("/auth/token", graphql_path)))
    )
    page = page.replace("</style>", _STYLE, 1)
    # Before GraphiQL's own script, which builds its fetcher on this one's.
    page = _replace_once(_GRAPHIQL_SCRIPT, f"{script}\n    <script>", page)
    return _replace_once(
        _FETCHER, "GraphiQL.createFetcher({ fetch: demobackendSession.fetch,", page
    )


__all__ = [
    "EXAMPLE_QUERY",
    "SESSION_KEY",
    "SIGN_IN_ID",
    "TemplateChangedError",
    "sign_in_form_html",
    "with_example_query",
    "with_sign_in",
]
