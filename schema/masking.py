"""Unexpected errors reach clients as "Internal server error" and a request id, nothing more.

The full error and its trace go to the log under the same request id. Expected errors
(validation, bad input, limits) pass, with graphql-core's "Did you mean …?" hints removed
so that the schema cannot be guessed by probing when introspection is off.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

__all__ = ["MaskErrors", "is_expected"]

log = logging.getLogger("kehu.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return True
    # A scalar's parser refusing a variable: no path, and the message is ours.
    return error.path is None and isinstance(original, ValueError)


class MaskErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        result.errors = [self._mask(error, request_id) for error in result.errors]

    def _mask(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        if is_expected(error):
            message = _SUGGESTION.sub("", error.message)
            if message == error.message:
                return error
            return GraphQLError(message, error.nodes, error.source, error.positions, error.path, None, error.extensions)
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(str(p) for p in error.path or ()),
            request_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            "Internal server error.",
            error.nodes,
            error.source,
            error.positions,
            error.path,
            None,
            {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
