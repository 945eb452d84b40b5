"""Config models (pydantic) and YAML loading. Defaults live here and only here."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_FILTERS: list[dict[str, Any]] = [
    {"name": "caption_quality"},
    {"name": "language"},
    {"name": "price"},
    {"name": "optout"},
    {"name": "image_valid"},
    {"name": "source_check"},
    {"name": "image_size"},
    {"name": "phash_dedup"},
]


class ConfigError(Exception):
    """A config or argument error: each problem has the field path, the bad value and what is allowed."""

    def __init__(self, problems: list[tuple[str, Any, str]], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        head = f"invalid config{f' in {self.source}' if self.source else ''}:"
        lines = [head]
        for path, value, allowed in self.problems:
            lines.append(f"  {path or '<root>'}: got {value!r}; {allowed}")
        return "\n".join(lines)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FetchConfig(Strict):
    timeout: float = Field(20.0, gt=0, description="seconds for one whole request")
    retries: int = Field(3, ge=0, le=10, description="retries on connection errors, 429 and 503")
    backoff: float = Field(1.0, ge=0, description="first backoff in seconds, doubled per retry")
    max_retry_after: float = Field(60.0, ge=0, description="cap on a server's Retry-After, seconds")
    max_image_bytes: int = Field(20 * 1024 * 1024, gt=0, description="bodies larger are refused unread")
    max_redirects: int = Field(5, ge=0, le=20)
    concurrency: int = Field(64, ge=1, le=4096, description="requests in flight in all")
    per_host: int = Field(16, ge=1, le=1024, description="requests in flight per host")
    allow_private_network: bool = Field(
        False, description="allow loopback/private/link-local hosts (needed for local tests and the demo)")


class PolitenessConfig(Strict):
    user_agent_token: str = Field("lgs-crawl", pattern=r"^[A-Za-z0-9._-]+$")
    contact_url: str = "https://github.com/lgs-crawl/lgs-crawl"
    obey_robots: bool = True
    concurrency_per_domain: int = Field(4, ge=1, le=256)
    download_delay: float = Field(0.0, ge=0, description="seconds between requests to one domain "
                                  "(robots.txt crawl-delay wins when larger)")
    autothrottle: bool = True

    @property
    def user_agent(self) -> str:
        from lgs_crawl import __version__

        return f"{self.user_agent_token}/{__version__} (+{self.contact_url})"


class DecodeConfig(Strict):
    max_pixels: int = Field(89_478_485, gt=0, description="decompression-bomb limit (Pillow's default)")


class OutputConfig(Strict):
    dir: str | None = Field(None, description="output folder (--out wins)")
    shard_size: int = Field(10_000, ge=1, le=999_999, description="input rows (download) or kept "
                            "samples (crawl) per shard")
    image_size: int = Field(256, ge=16, le=8192)
    resize_mode: Literal["keep_ratio", "center_crop", "border", "no"] = "keep_ratio"
    format: Literal["jpg", "webp", "png"] = "jpg"
    quality: int = Field(95, ge=1, le=100)
    processes: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256)


class CaptionConfig(Strict):
    template: str = Field("{title}. {description}", description="Python format string over record fields")

    @field_validator("template")
    @classmethod
    def _fields_exist(cls, v: str) -> str:
        import string

        allowed = {"title", "description", "brand", "category", "breadcrumbs", "caption", "price",
                   "currency", "sku", "gtin", "site"}
        for _, field, _, _ in string.Formatter().parse(v):
            if field is not None and field not in allowed:
                raise ValueError(f"unknown field {{{field}}}; allowed: {', '.join(sorted(allowed))}")
        return v


class FollowConfig(Strict):
    allow: list[str] = Field(default_factory=list, description="regexes a followed link must match")
    deny: list[str] = Field(default_factory=list, description="regexes a followed link must not match")
    restrict_css: list[str] = Field(default_factory=list, description="only follow links inside these")

    @field_validator("allow", "deny")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return [_check_regex(p) for p in v]

    @field_validator("restrict_css")
    @classmethod
    def _css(cls, v: list[str]) -> list[str]:
        return [_check_selector(s) for s in v]


class PaginationConfig(Strict):
    next: str = Field("a[rel=next]::attr(href), link[rel=next]::attr(href)",
                      description="selector of the 'next page' link (never page counting)")
    max_pages: int = Field(1000, ge=1, description="pages followed per listing, a trap guard")

    @field_validator("next")
    @classmethod
    def _css(cls, v: str) -> str:
        return _check_selector(v)


SELECTOR_FIELDS = ("title", "description", "brand", "price", "currency", "sku", "gtin", "images",
                   "breadcrumbs")


class SiteConfig(Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9._-]+$")
    start_urls: list[str] = Field(default_factory=list)
    sitemaps: list[str] = Field(default_factory=list, description="sitemap or sitemap-index URLs")
    sitemaps_from_robots: bool = True
    allowed_domains: list[str] = Field(default_factory=list)
    product_url_patterns: list[str] = Field(
        default_factory=list, description="regexes; empty means: any page with product data is a product")
    follow: FollowConfig = Field(default_factory=FollowConfig)
    pagination: PaginationConfig = Field(default_factory=PaginationConfig)
    selectors: dict[str, str] = Field(default_factory=dict, description="field -> CSS or XPath (parsel)")
    render: Literal["http", "playwright", "auto"] = Field(
        "http", description="auto: plain HTTP, and Chromium for product pages whose HTML has no product data")
    images: Literal["first", "all"] = "all"
    max_pages: int = Field(100_000, ge=1, description="pages requested at most")
    chromium_path: str = "/usr/bin/chromium"

    @field_validator("start_urls", "sitemaps")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for u in v:
            if not re.match(r"^https?://[^/\s]+", u):
                raise ValueError(f"{u!r} is not an http(s) URL")
        return v

    @field_validator("product_url_patterns")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return [_check_regex(p) for p in v]

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, v: dict[str, str]) -> dict[str, str]:
        for field, sel in v.items():
            if field not in SELECTOR_FIELDS:
                raise ValueError(f"unknown selector field {field!r}; allowed: {', '.join(SELECTOR_FIELDS)}")
            _check_selector(sel)
        return v


class Config(Strict):
    site: SiteConfig | None = None
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    politeness: PolitenessConfig = Field(default_factory=PolitenessConfig)
    decode: DecodeConfig = Field(default_factory=DecodeConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    caption: CaptionConfig = Field(default_factory=CaptionConfig)
    filters: list[dict[str, Any]] = Field(default_factory=lambda: [dict(f) for f in DEFAULT_FILTERS])
    max_error_share: float = Field(0.2, ge=0, le=1, description="exit 1 when failed pages exceed this share")


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"bad regular expression ({e})") from None
    return pattern


def _check_selector(sel: str) -> str:
    """A parsel selector: XPath when it starts with / or (, CSS otherwise (with ::text, ::attr())."""
    from parsel import Selector

    probe = Selector(text="<html><body></body></html>")
    try:
        if sel.lstrip().startswith(("/", "(")):
            probe.xpath(sel)
        else:
            probe.css(sel)
    except Exception as e:  # parsel raises several types (cssselect, lxml) for bad syntax
        raise ValueError(f"bad selector ({type(e).__name__}: {e}); use CSS (parsel, ::text, ::attr(x)) "
                         "or XPath starting with /") from None
    return sel


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_config(data: Any, source: str = "") -> Config:
    """Validate a config mapping; raise ConfigError listing every problem (path, value, allowed)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([("", data, "a mapping (YAML object) is required")], source)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError([(_loc(err["loc"]), err.get("input"), err["msg"]) for err in e.errors()],
                          source) from None
    problems = []
    from lgs_crawl.filters import available_filters, filter_class

    for i, spec in enumerate(cfg.filters):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            problems.append((f"filters[{i}].name", spec, "each filter needs a name"))
            continue
        name = spec["name"]
        try:
            cls = filter_class(name)
        except (ImportError, ValueError, AttributeError):
            problems.append((f"filters[{i}].name", name,
                             f"allowed: {', '.join(available_filters())} or package.module:Class"))
            continue
        params = {k: v for k, v in spec.items() if k != "name"}
        try:
            cls.Params(**params)
        except ValidationError as e:
            for err in e.errors():
                problems.append((_loc(("filters", i, *err["loc"])), err.get("input"), err["msg"]))
    if problems:
        raise ConfigError(problems, source)
    return cfg


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> Config:
    """Load YAML (or defaults when path is None), apply dotted-key overrides, validate."""
    data: dict[str, Any] = {}
    source = str(path) if path else ""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError([("", str(path), f"a readable YAML file is required ({e.strerror})")]) from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise ConfigError([("", str(path), f"valid YAML is required ({e})")]) from None
        if not isinstance(data, dict):
            raise ConfigError([("", data, "a mapping (YAML object) at the top level is required")], source)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return validate_config(data, source)


def json_schema() -> dict[str, Any]:
    return Config.model_json_schema()
