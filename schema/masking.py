"""Unexpected errors reach clients as "Internal server error." and a request id, nothing more.

The full error and its trace go to the log under the same request id. Expected errors
(validation, bad input, limits) pass, with graphql-core's "Did you mean …?" hints removed
so that the schema cannot be guessed by probing when introspection is off.

The HTTP endpoint applies ``mask`` to every error of a result, whichever stage raised it
(a Strawberry extension sees only the errors of execution, not those of parsing hooks).
"""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError

from models.errors import DomainError
from schema.errors import bad_input
from schema.scalars import ScalarError

__all__ = ["mask"]

log = logging.getLogger("kehu.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _rebuilt(error: GraphQLError, message: str, extensions: dict | None) -> GraphQLError:
    return GraphQLError(message, error.nodes, error.source, error.positions, error.path, None, extensions)


def mask(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        # A rule of the domain refused (a permission, most often) deep in a loader.
        return bad_input(original).with_location(error)
    if original is None or isinstance(original, (GraphQLError, ScalarError)):
        message = _SUGGESTION.sub("", error.message)
        return error if message == error.message else _rebuilt(error, message, error.extensions)
    if error.path is None:
        # Refused while reading the request (graphql-core coercing a literal, say): the
        # client's input, but the library's words may carry internals.
        log.info("refused input (request %s): %s", request_id, original.__class__.__name__)
        return _rebuilt(error, "A value in the request is not valid.", {"code": "BAD_USER_INPUT"})
    log.error(
        "unexpected error in %s (request %s)",
        ".".join(str(p) for p in error.path),
        request_id,
        exc_info=original,
    )
    return _rebuilt(error, "Internal server error.", {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id})
