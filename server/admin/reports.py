"""Reports in the admin (customer.export): a saved segment's customers and the loyalty ledger as CSV.

Streamed as they are read (models/reports.py reads them in chunks), with a byte-order mark so that
a spreadsheet opens the Chinese in them as UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.responses import Response, StreamingResponse

from models import reports
from server.admin.dashboard import day
from server.admin.pages import Admin, page, path_id

__all__ = ["ledger_csv", "segment_csv"]


async def _lines(export: reports.Export) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export.header)
    yield ("\ufeff" + buffer.getvalue()).encode()
    async for row in export.rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([reports.cell(value) for value in row])
        yield buffer.getvalue().encode()


def _csv(export: reports.Export) -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return StreamingResponse(_lines(export), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="kehu-{export.name}-{stamp}.csv"',
        "cache-control": "no-store", "x-content-type-options": "nosniff",
    })


@page
async def segment_csv(admin: Admin) -> Response:
    return _csv(await reports.segment_export(admin.scope, path_id(admin.request)))


@page
async def ledger_csv(admin: Admin) -> Response:
    """The ledger, of the days ``from`` to ``to`` (the business's time zone) when given."""
    params = admin.request.query_params
    return _csv(await reports.ledger_export(admin.scope, day(params.get("from") or "", "from"), day(params.get("to") or "", "to")))
