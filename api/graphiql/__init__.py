"""GraphiQL at `/graphql`, with its scripts and styles served from this package.

Strawberry's own page loads them from a CDN, so on a machine without internet it never
gets past "Loading...". The files in `static/` are the npm packages' own builds, byte for
byte, as ASSETS lists them (to update one: `npm pack <package>@<version>`, copy the file
from the tarball, put its sha384 here); `static/licenses/` holds each package's license
(all MIT). The page names every file with its published integrity hash, so a browser
refuses a damaged or swapped one, and a test checks the hashes against the files.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from importlib.resources import files

from starlette.staticfiles import StaticFiles

# Where the page finds the assets, relative to `/graphql` so that a path prefix in front of
# the API keeps working.
ASSETS_PATH = "/graphiql"


@dataclass(frozen=True)
class Asset:
    """One file of an npm package, as published: `npm pack <package>@<version>`."""

    file: str
    package: str
    version: str
    path_in_package: str
    integrity: str


ASSETS = (
    Asset(
        "react.production.min.js",
        "react",
        "18.2.0",
        "umd/react.production.min.js",
        "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    ),
    Asset(
        "react-dom.production.min.js",
        "react-dom",
        "18.2.0",
        "umd/react-dom.production.min.js",
        "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
    ),
    Asset(
        "graphiql.min.js",
        "graphiql",
        "3.8.3",
        "graphiql.min.js",
        "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    ),
    Asset(
        "graphiql.min.css",
        "graphiql",
        "3.8.3",
        "graphiql.min.css",
        "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    ),
)


def default_query(admin_username: str) -> str:
    """What a newcomer sees first: how to log in, and where the token goes.

    The operation is anonymous, as are the README's: GraphiQL 3 keeps the name of a named
    operation after the editor holds an anonymous one, and sends it along ("Unknown
    operation named ...")."""
    # Short lines: the editor is half the window wide.
    return f"""# Welcome to Flowdesk.
#
# 1. Log in: fill in the password, then run this
#    (Ctrl-Enter, or the play button). `flowdesk dev`
#    printed the admin's password and where it keeps it.
# 2. Copy the token from the answer into the Headers
#    tab below, for every other operation:
#      {{"Authorization": "Bearer <token>"}}
# 3. Then ask, for example:
#      query {{ me {{ username groups {{ key }} }} }}
#    The Docs button (top left) lists all you can ask.
mutation {{
  login(username: {json.dumps(admin_username)}, password: "<password>") {{
    token
    user {{ username }}
  }}
}}
"""


def page(admin_username: str) -> str:
    """The HTML of GraphiQL, wired to `/graphql` over HTTP and graphql-transport-ws."""
    styles = "\n".join(
        f'    <link rel="stylesheet" href="{_href(a)}" integrity="{a.integrity}">'
        for a in ASSETS
        if a.file.endswith(".css")
    )
    scripts = "\n".join(
        f'    <script src="{_href(a)}" integrity="{a.integrity}"></script>'
        for a in ASSETS
        if a.file.endswith(".js")
    )
    # JSON is valid JavaScript; "</" is escaped so the query cannot end the script element.
    query = json.dumps(default_query(admin_username)).replace("</", "<\\/")
    return _PAGE.format(styles=styles, scripts=scripts, query=query)


def assets() -> StaticFiles:
    """The app that serves `static/`, mounted at ASSETS_PATH."""
    return StaticFiles(directory=str(files(__name__) / "static"))


def _href(asset: Asset) -> str:
    return html.escape(f".{ASSETS_PATH}/{asset.file}")


_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Flowdesk GraphiQL</title>
    <style>
      body {{ margin: 0; height: 100vh; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
    </style>
{styles}
  </head>
  <body>
    <div id="graphiql">Loading...</div>
{scripts}
    <script>
      const url = new URL(window.location.href.split("?")[0]);
      const subscriptionUrl = new URL(url);
      subscriptionUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      const fetcher = GraphiQL.createFetcher({{
        url: url.toString(),
        subscriptionUrl: subscriptionUrl.toString(),
      }});
      ReactDOM.createRoot(document.getElementById("graphiql")).render(
        React.createElement(GraphiQL, {{
          fetcher,
          defaultQuery: {query},
          defaultEditorToolsVisibility: "headers",
          isHeadersEditorEnabled: true,
          shouldPersistHeaders: true,
          inputValueDeprecation: true,
        }}),
      );
    </script>
  </body>
</html>
"""
