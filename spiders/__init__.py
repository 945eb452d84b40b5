"""Spiders: pages -> records and requests. No filtering or writing here (that is the filter chain's and
the sharder's job). ``product.ProductSpider`` is driven by a site config and serves most shops; a shop
that needs code gets its own small module here that reuses ``lgs_crawl.extract``."""
