"""Baseline for crawl_overhead.py: a plain Scrapy spider that fetches the same product pages and
images as `lgs-crawl run` (URLs from the demo shop's ground truth), with the same concurrency, and
does nothing with them."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import scrapy  # noqa: E402
from scrapy.crawler import CrawlerProcess  # noqa: E402


class Plain(scrapy.Spider):
    name = "plain"

    def __init__(self, urls: list[str], **kw):
        super().__init__(**kw)
        self.urls = urls

    async def start(self):
        for u in self.urls:
            yield scrapy.Request(u, callback=self.parse, dont_filter=True)

    def parse(self, response):
        return None


if __name__ == "__main__":
    urls = json.load(open(sys.argv[1]))
    conc = int(sys.argv[2])
    p = CrawlerProcess({"LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS_PER_DOMAIN": conc, "CONCURRENT_REQUESTS": 64,
                        "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False,
                        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor"})
    p.crawl(Plain, urls=urls)
    p.start()
