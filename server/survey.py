"""``/s/<token>``: the customer's survey page. No sign-in: the link's token is the credential.

Small, server-rendered and readable on a phone, in Chinese (English by ``Accept-Language``),
under the admin's CSP. It takes one answer; a second, an expired or an unknown link gets a
page that says so and changes nothing. Requests are limited per address, so that links cannot
be guessed by volume (they cannot by design: 192 bits).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from models import surveys
from models.errors import DomainError, ErrorCode
from models.throttle import SignInThrottle
from server import i18n
from server.admin.pages import security_headers
from server.i18n import gettext as _
from server.templates import templates

__all__ = ["survey_routes"]

_limit = SignInThrottle(per_client=30, window=60.0, max_waiting=64, refusal="too many survey requests; wait a minute.")
_STATUS = {"open": 200, "thanks": 200, "answered": 409, "expired": 410, "limited": 429, "unknown": 404}


def _page(request: Request, state: str, **context) -> HTMLResponse:
    with i18n.activated(i18n.negotiate(request.headers.get("accept-language"))):
        html = templates.get_template("public/survey.html").render(state=state, **context)
    return HTMLResponse(html, status_code=_STATUS.get(state, 200), headers=security_headers())


def _score(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else None


async def survey(request: Request) -> Response:
    token = request.path_params["token"]
    client = request.client.host if request.client else None
    try:
        async with _limit.attempt(client):
            found = await surveys.survey_for_token(token)
            if found is None:
                return _page(request, "unknown")
            if found["state"] != surveys.Survey.OPEN or request.method == "GET":
                return _page(request, found["state"], reference=found["reference"], errors=None, csat=None, nps=None, comment="")
            form = await request.form(max_files=0, max_fields=10)
            data = {"csat": _score(form.get("csat")), "nps": _score(form.get("nps")), "comment": form.get("comment") or None}
            try:
                await surveys.answer_survey(token, data, client)
            except DomainError as error:
                if error.errors[0].code is ErrorCode.DUPLICATE:
                    return _page(request, "answered")
                with i18n.activated(i18n.negotiate(request.headers.get("accept-language"))):
                    if error.errors[0].field in ("csat", "nps"):
                        message = _("Please choose how satisfied you are, from 1 to 5.")
                    else:
                        message = _("Your comment is too long or holds characters we cannot keep.")
                return _page(request, "open", reference=found["reference"], errors=message, **data)
            return _page(request, "thanks")
    except DomainError:
        return _page(request, "limited")


def survey_routes() -> list[Route]:
    return [Route("/s/{token:str}", survey, methods=["GET", "POST"])]
