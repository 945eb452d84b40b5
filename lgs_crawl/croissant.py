"""OUT/croissant.json: Croissant 1.0 metadata for the output folder — the tar file set, the Parquet
record set with typed fields, and the responsible-AI facts of how the data was collected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lgs_crawl import __version__
from lgs_crawl.dataset import read_run
from lgs_crawl.record import utc_now

CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract", "field": "cr:field",
    "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject", "fileSet": "cr:fileSet",
    "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField",
    "path": "cr:path", "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "sc": "https://schema.org/",
    "samplingRate": "cr:samplingRate", "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField", "transform": "cr:transform",
}

# metadata column -> (Croissant data type, description)
FIELDS: dict[str, tuple[str, str]] = {
    "key": ("sc:Text", "Sample key: 12 digits, the same in the tar members KEY.jpg/KEY.txt/KEY.json"),
    "shard": ("sc:Integer", "Shard number (shards/NNNNNN.tar)"),
    "image_url": ("sc:URL", "Where the image was fetched from"),
    "page_url": ("sc:URL", "The product page"),
    "site": ("sc:Text", "Site name from the crawl config"),
    "caption": ("sc:Text", "The caption (KEY.txt)"),
    "title": ("sc:Text", "Product title"),
    "description": ("sc:Text", "Product description"),
    "brand": ("sc:Text", "Brand"),
    "price": ("sc:Float", "Price as a number"),
    "currency": ("sc:Text", "ISO 4217 currency code"),
    "sku": ("sc:Text", "Seller's SKU"),
    "gtin": ("sc:Text", "GTIN/EAN"),
    "language": ("sc:Text", "Detected caption language (ISO 639-1)"),
    "width": ("sc:Integer", "Width of the stored image"),
    "height": ("sc:Integer", "Height of the stored image"),
    "original_width": ("sc:Integer", "Width of the source image"),
    "original_height": ("sc:Integer", "Height of the source image"),
    "phash": ("sc:Text", "64-bit perceptual hash of the source image (hex)"),
    "dhash": ("sc:Text", "64-bit difference hash of the source image (hex)"),
    "chroma": ("sc:Text", "Mean Cr and Cb of the 4 central cells of a 4x4 grid over the stored image (8 bytes, hex)"),
    "sha256": ("sc:Text", "SHA-256 of the source image bytes"),
    "crawled_at": ("sc:Text", "When the sample was collected (ISO 8601, UTC)"),
}


def croissant(out: Path) -> dict[str, Any]:
    run = read_run(out)
    site = ((run.get("config") or {}).get("site") or {}).get("name") or ""
    name = f"lgs-crawl-{site or out.name}"
    fields = [{
        "@type": "cr:Field", "@id": f"samples/{col}", "name": f"samples/{col}", "description": desc,
        "dataType": dtype, "source": {"fileSet": {"@id": "metadata-files"}, "extract": {"column": col}},
    } for col, (dtype, desc) in FIELDS.items()]
    fields.append({
        "@type": "cr:Field", "@id": "samples/breadcrumbs", "name": "samples/breadcrumbs", "repeated": True,
        "description": "Category path, root first", "dataType": "sc:Text",
        "source": {"fileSet": {"@id": "metadata-files"}, "extract": {"column": "breadcrumbs"}},
    })
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": name,
        "description": "Product image-caption pairs collected from e-commerce product pages with lgs-crawl: "
                       "WebDataset tar shards (KEY.jpg, KEY.txt, KEY.json) and one Parquet metadata row per sample.",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "url": "https://github.com/lgs-crawl/lgs-crawl",
        "license": "https://creativecommons.org/licenses/by-nc/4.0/",
        "version": __version__,
        "datePublished": utc_now()[:10],
        "citeAs": "Bai et al. Let's Go Shopping (LGS): web-scale image-text dataset for visual concept "
                  "understanding, 2024; collected with lgs-crawl.",
        "keywords": ["e-commerce", "product images", "image captioning", "webdataset"],
        "rai:dataCollection": "Product pages were crawled with Scrapy following robots.txt (rules and Crawl-delay) "
                              "for the lgs-crawl user agent, an identifying User-Agent with a contact URL, per-domain "
                              "concurrency limits and backoff on 429/503; or images were downloaded from a released "
                              "URL list with the same filters.",
        "rai:dataCollectionType": "Web Scraping",
        "rai:dataPreprocessingProtocol": "Captions normalised (HTML removed, mojibake repaired); records dropped "
                                         "for caption quality, language, opt-out headers, image validity, size and "
                                         "aspect ratio, and exact/near duplicates; every drop is listed with its "
                                         "reason in rejects/*.parquet.",
        "rai:personalSensitiveInformation": "Product photos and seller-written text; no personal data is sought.",
        "rai:dataUseCases": "Training and evaluating image-text models on product imagery.",
        "rai:dataLimitations": "Images remain the property of their sellers and sites. Images whose responses "
                               "carried X-Robots-Tag noai, noimageai, noindex or noimageindex were excluded.",
        "distribution": [
            {"@type": "cr:FileSet", "@id": "tar-shards", "name": "tar-shards",
             "description": "WebDataset shards: KEY.jpg (or .webp/.png), KEY.txt, KEY.json per sample",
             "encodingFormat": "application/x-tar", "includes": "shards/*.tar"},
            {"@type": "cr:FileSet", "@id": "metadata-files", "name": "metadata-files",
             "description": "One Parquet row per sample, same key as in the tar shards",
             "encodingFormat": "application/x-parquet", "includes": "metadata/*.parquet"},
        ],
        "recordSet": [{"@type": "cr:RecordSet", "@id": "samples", "name": "samples",
                       "description": "One record per image-caption sample",
                       "key": {"@id": "samples/key"}, "field": fields}],
    }


def write_croissant(out: Path) -> Path:
    path = out / "croissant.json"
    path.write_text(json.dumps(croissant(out), indent=2))
    return path
