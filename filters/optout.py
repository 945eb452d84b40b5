"""Opt-out: honour ``X-Robots-Tag`` noai/noimageai/noindex/noimageindex on the image response.

Checked on headers, before the body is read. A directive applies when bare (``noai``) or scoped to our
User-Agent token (``lgs-crawl: noai``); one scoped to another bot does not apply.
"""

from __future__ import annotations

from pydantic import Field

from lgs_crawl.filters import Drop, Filter, FilterParams

DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")


def optout_directives(value: str, token: str) -> list[str]:
    """The opt-out directives in one X-Robots-Tag value that apply to ``token``."""
    found: list[str] = []
    token = token.lower()
    for part in value.split(","):
        part = part.strip().lower()
        scope = ""
        if ":" in part:
            head, _, rest = part.partition(":")
            if head.strip() not in DIRECTIVES and head.strip() not in ("none", "all"):
                scope, part = head.strip(), rest.strip()
        if scope and scope != token:
            continue
        for word in part.split():
            word = word.strip(" ;")
            if word == "none":
                found.append("noindex")
            elif word in DIRECTIVES:
                found.append(word)
    return found


class OptOut(Filter):
    name = "optout"
    stage = "headers"

    class Params(FilterParams):
        directives: list[str] = Field(default_factory=lambda: list(DIRECTIVES))
        user_agent_token: str = "lgs-crawl"

    def check(self, record):  # type: ignore[override]
        values = [v for k, v in record.headers.items() if k.lower() == "x-robots-tag"]
        for value in values:
            hits = [d for d in optout_directives(value, self.params.user_agent_token)
                    if d in self.params.directives]
            if hits:
                return Drop("optout_header", f"X-Robots-Tag: {value}"[:120])
        return None
