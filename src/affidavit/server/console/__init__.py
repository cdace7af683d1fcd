"""The auditor's console (issue 14): server-rendered pages on the collector under
``/console``: sign-in (OpenID Connect or a collector token), the timeline, file history,
record pages whose inclusion proof the browser verifies itself, and the compliance
dashboard with its governance review. Jinja2 templates and static files ship inside this
package; nothing is fetched from the internet.

:data:`ROUTE` is the one line the collector's route table mounts.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from affidavit.server.console import dashboard, pages, signin
from affidavit.server.console.session import ConsoleSession

ROUTE = Mount(
    "/console",
    routes=[
        Route("/", pages.home),
        Route("/signin", signin.page, methods=["GET", "POST"]),
        Route("/signout", signin.sign_out, methods=["POST"]),
        Route("/oidc/login", signin.oidc_login),
        Route("/oidc/callback", signin.oidc_callback, name="console_oidc_callback"),
        Route("/timeline", pages.timeline_page),
        Route("/timeline.csv", pages.timeline_csv),
        Route("/timeline.zip", pages.timeline_pack),
        Route("/file", pages.file_page),
        Route("/record/{org_seq:int}", pages.record_page),
        Route("/compliance", dashboard.page),
        Route("/findings/resolve", dashboard.resolve, methods=["POST"]),
        Route("/reviews", dashboard.review, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static"))),
    ],
    middleware=[Middleware(ConsoleSession)],
)
