"""The demo shop's deterministic catalogue, which also serves as ground truth for extraction tests.

Products come in six markup styles (JSON-LD Product, JSON-LD ProductGroup with variants, microdata,
OpenGraph only, no structured data at all (selectors), JavaScript-rendered), five languages, a category
tree, locale-formatted prices, several image formats, and a few planted exact and near duplicates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

STYLES = ("jsonld", "productgroup", "microdata", "opengraph", "selectors", "js")
TREE = {
    "Clothing": ["Shirts", "Dresses", "Shoes", "Jackets"],
    "Home & Kitchen": ["Mugs", "Chairs", "Lamps", "Cushions"],
    "Electronics": ["Headphones", "Phone Cases", "Speakers"],
    "Toys": ["Puzzles", "Plush Toys", "Building Blocks"],
}
BRANDS = ["Northwind", "Alderbrook", "Kestrel & Co", "Maison Lumière", "Sonnenhof", "Vela", "Tallinn Works",
          "Oakridge", "Bruma", "Fiordaliso"]
WORDS = {
    "en": {"adj": ["classic", "soft", "sturdy", "elegant", "lightweight", "handmade", "modern", "cosy"],
           "colour": ["red", "navy", "olive", "white", "black", "mustard", "grey", "teal"],
           "lines": ["Made from carefully selected materials for everyday use.",
                     "Designed in our studio and tested for durability.",
                     "Easy to clean and built to last for years.",
                     "A versatile piece that fits any style.",
                     "Packed in recyclable cardboard without plastic."],
           "bullets": ["Machine washable", "Two-year warranty", "Ships in 24 hours", "Vegan materials"]},
    "de": {"adj": ["klassische", "weiche", "robuste", "elegante", "leichte", "handgemachte", "moderne"],
           "colour": ["rote", "dunkelblaue", "olivgrüne", "weiße", "schwarze", "graue"],
           "lines": ["Aus sorgfältig ausgewählten Materialien für den täglichen Gebrauch gefertigt.",
                     "In unserem Atelier entworfen und auf Haltbarkeit geprüft.",
                     "Leicht zu reinigen und für viele Jahre gebaut.",
                     "Ein vielseitiges Stück, das zu jedem Stil passt."],
           "bullets": ["Maschinenwaschbar", "Zwei Jahre Garantie", "Versand innerhalb von 24 Stunden"]},
    "fr": {"adj": ["classique", "douce", "robuste", "élégante", "légère", "artisanale", "moderne"],
           "colour": ["rouge", "bleu marine", "vert olive", "blanche", "noire", "grise"],
           "lines": ["Fabriqué à partir de matériaux soigneusement sélectionnés pour un usage quotidien.",
                     "Conçu dans notre atelier et testé pour sa durabilité.",
                     "Facile à nettoyer et conçu pour durer des années.",
                     "Une pièce polyvalente qui s'accorde à tous les styles."],
           "bullets": ["Lavable en machine", "Garantie de deux ans", "Expédié sous 24 heures"]},
    "es": {"adj": ["clásica", "suave", "resistente", "elegante", "ligera", "artesanal", "moderna"],
           "colour": ["roja", "azul marino", "verde oliva", "blanca", "negra", "gris"],
           "lines": ["Fabricado con materiales cuidadosamente seleccionados para el uso diario.",
                     "Diseñado en nuestro estudio y probado para durar.",
                     "Fácil de limpiar y hecho para durar muchos años.",
                     "Una pieza versátil que combina con cualquier estilo."],
           "bullets": ["Lavable a máquina", "Garantía de dos años", "Envío en 24 horas"]},
    "it": {"adj": ["classica", "morbida", "robusta", "elegante", "leggera", "artigianale", "moderna"],
           "colour": ["rossa", "blu navy", "verde oliva", "bianca", "nera", "grigia"],
           "lines": ["Realizzato con materiali accuratamente selezionati per l'uso quotidiano.",
                     "Progettato nel nostro studio e testato per la durata.",
                     "Facile da pulire e costruito per durare anni.",
                     "Un pezzo versatile che si adatta a ogni stile."],
           "bullets": ["Lavabile in lavatrice", "Garanzia di due anni", "Spedizione in 24 ore"]},
}
NOUNS = {
    "Shirts": {"en": "shirt", "de": "Hemd", "fr": "chemise", "es": "camisa", "it": "camicia"},
    "Dresses": {"en": "dress", "de": "Kleid", "fr": "robe", "es": "vestido", "it": "abito"},
    "Shoes": {"en": "sneakers", "de": "Turnschuhe", "fr": "baskets", "es": "zapatillas", "it": "scarpe"},
    "Jackets": {"en": "jacket", "de": "Jacke", "fr": "veste", "es": "chaqueta", "it": "giacca"},
    "Mugs": {"en": "coffee mug", "de": "Kaffeetasse", "fr": "tasse à café", "es": "taza", "it": "tazza"},
    "Chairs": {"en": "dining chair", "de": "Esszimmerstuhl", "fr": "chaise", "es": "silla", "it": "sedia"},
    "Lamps": {"en": "table lamp", "de": "Tischlampe", "fr": "lampe de table", "es": "lámpara", "it": "lampada"},
    "Cushions": {"en": "cushion", "de": "Kissen", "fr": "coussin", "es": "cojín", "it": "cuscino"},
    "Headphones": {"en": "headphones", "de": "Kopfhörer", "fr": "casque", "es": "auriculares", "it": "cuffie"},
    "Phone Cases": {"en": "phone case", "de": "Handyhülle", "fr": "coque", "es": "funda", "it": "custodia"},
    "Speakers": {"en": "speaker", "de": "Lautsprecher", "fr": "enceinte", "es": "altavoz", "it": "altoparlante"},
    "Puzzles": {"en": "jigsaw puzzle", "de": "Puzzle", "fr": "puzzle", "es": "rompecabezas", "it": "puzzle"},
    "Plush Toys": {"en": "plush bear", "de": "Plüschbär", "fr": "ours en peluche", "es": "peluche",
                   "it": "peluche"},
    "Building Blocks": {"en": "building set", "de": "Bauset", "fr": "jeu de construction",
                        "es": "juego de construcción", "it": "set di costruzioni"},
}
CURRENCY = {"en": "GBP", "de": "EUR", "fr": "EUR", "es": "EUR", "it": "EUR", "us": "USD"}


def slugify(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(p for p in out.split("-") if p)


def format_price(amount: float, currency: str) -> str:
    """Locale formats: '1.299,00 €', '£1,299.00', '$1,299.00'."""
    if currency == "EUR":
        whole, cents = f"{amount:,.2f}".split(".")
        return f"{whole.replace(',', '.')},{cents} €"
    symbol = {"GBP": "£", "USD": "$"}[currency]
    return f"{symbol}{amount:,.2f}"


def gtin13(rng: random.Random) -> str:
    digits = [rng.randint(0, 9) for _ in range(12)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits)) + str(check)


@dataclass(frozen=True)
class ImageSpec:
    path: str  # canonical path, e.g. /images/p12-0.jpg
    seed: int
    width: int
    height: int
    fmt: str  # JPEG, PNG, WEBP
    derive: str = ""  # "" | "exact" | "near": planted duplicate of the image with this seed


@dataclass
class Variant:
    """What one record of a product page must carry (a plain product is one variant)."""

    title: str
    sku: str
    gtin: str
    price: float
    images: list[ImageSpec]


@dataclass
class Product:
    index: int
    slug: str
    style: str
    lang: str
    top: str
    leaf: str
    brand: str
    title: str
    description: str
    currency: str
    variants: list[Variant]
    in_sitemap: bool
    lastmod: str
    expected_drop: str = ""  # reason the filters must drop this product's first image for, if any
    extras: dict = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"/p/{self.slug}.html"

    @property
    def breadcrumbs(self) -> list[str]:
        return ["Home", self.top, self.leaf]

    @property
    def category_path(self) -> str:
        return f"/c/{slugify(self.top)}/{slugify(self.leaf)}"


class Catalogue:
    def __init__(self, products: int = 300, seed: int = 7) -> None:
        self.seed = seed
        rng = random.Random(seed)
        self.products: list[Product] = []
        leaves = [(top, leaf) for top, ls in TREE.items() for leaf in ls]
        for i in range(products):
            self.products.append(self._product(i, rng, leaves))
        self.by_path = {p.path: p for p in self.products}
        self.images: dict[str, ImageSpec] = {}
        for p in self.products:
            for v in p.variants:
                for im in v.images:
                    self.images[im.path] = im

    def _product(self, i: int, rng: random.Random, leaves: list[tuple[str, str]]) -> Product:
        style = STYLES[i % len(STYLES)]
        lang = rng.choice(["en", "en", "en", "de", "fr", "es", "it"])
        top, leaf = leaves[rng.randrange(len(leaves))]
        words = WORDS[lang]
        brand = rng.choice(BRANDS)
        noun = NOUNS[leaf][lang]
        adj, colour = rng.choice(words["adj"]), rng.choice(words["colour"])
        title = f"{brand} {adj} {colour} {noun}" if lang != "en" else f"{brand} {adj.title()} {colour} {noun}"
        lines = rng.sample(words["lines"], k=min(len(words["lines"]), rng.randint(2, 3)))
        description = " ".join(lines)
        if rng.random() < 0.3:
            description += "\n" + "\n".join(f"- {b}" for b in rng.sample(words["bullets"], 2))
        currency = "USD" if lang == "en" and rng.random() < 0.4 else CURRENCY[lang]
        price = round(rng.choice([rng.uniform(5, 99), rng.uniform(100, 2500)]), 2)
        n_images = 1 if style == "productgroup" else rng.randint(1, 3)
        slug = f"{slugify(title)}-{i}"

        def image(tag: str, seed: int) -> ImageSpec:
            fmt = rng.choice(["JPEG"] * 6 + ["PNG", "WEBP"])
            ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
            w, h = rng.randint(500, 1200), rng.randint(500, 1200)
            return ImageSpec(f"/images/p{i}-{tag}.{ext}", seed, w, h, fmt)

        variants: list[Variant] = []
        if style == "productgroup":
            for j in range(rng.randint(2, 3)):
                vcolour = words["colour"][(words["colour"].index(colour) + j) % len(words["colour"])]
                variants.append(Variant(f"{title} - {vcolour}", f"SKU-{i:05d}-{j}", gtin13(rng),
                                        round(price + 5 * j, 2), [image(f"v{j}", self.seed * 100000 + i * 10 + j)]))
        else:
            variants.append(Variant(title, f"SKU-{i:05d}", gtin13(rng), price,
                                    [image(str(k), self.seed * 100000 + i * 10 + k) for k in range(n_images)]))
        expected_drop = ""
        first = variants[0].images[0]
        if i % 50 == 49:  # planted exact duplicate of the previous product's first image
            prev = self.products[i - 1].variants[0].images[0]
            variants[0].images[0] = ImageSpec(first.path, prev.seed, prev.width, prev.height, prev.fmt, "exact")
            expected_drop = "exact_duplicate"
        elif i % 50 == 24:  # planted near duplicate: re-encoded at 80 % size
            prev = self.products[i - 1].variants[0].images[0]
            variants[0].images[0] = ImageSpec(first.path.rsplit(".", 1)[0] + ".jpg", prev.seed, prev.width,
                                              prev.height, "JPEG", "near")
            expected_drop = "near_duplicate"
        elif i % 50 == 37:  # a thumbnail too small to keep
            variants[0].images[0] = ImageSpec(first.path, first.seed, 150, 150, first.fmt)
            expected_drop = "too_small"
        lastmod = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"
        return Product(i, slug, style, lang, top, leaf, brand, title, description, currency, variants,
                       in_sitemap=(i % 3 != 2), lastmod=lastmod, expected_drop=expected_drop)

    def leaves(self) -> list[tuple[str, str]]:
        return [(top, leaf) for top, ls in TREE.items() for leaf in ls]

    def in_category(self, top: str, leaf: str) -> list[Product]:
        return [p for p in self.products if (p.top, p.leaf) == (top, leaf)]
