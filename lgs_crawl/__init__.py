"""lgs-crawl: image-caption datasets from e-commerce sites (crawl -> filter chain -> shards)."""

__version__ = "0.1.0"
