"""Price: parse the page's price text into a number and currency; optionally require one."""

from __future__ import annotations

import math

from price_parser import Price
from pydantic import Field

from lgs_crawl.filters import Drop, Filter, FilterParams

_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB",
            "zł": "PLN", "kr": "SEK", "R$": "BRL", "CHF": "CHF", "US$": "USD", "C$": "CAD", "A$": "AUD"}


def parse_price(text: str, currency_hint: str = "") -> tuple[float | None, str]:
    """'1.299,00 €' -> (1299.0, 'EUR'); '£173.34' -> (173.34, 'GBP'); '$1,299' -> (1299.0, 'USD')."""
    parsed = Price.fromstring(text, currency_hint=currency_hint or None)
    amount = float(parsed.amount) if parsed.amount is not None else None
    currency = currency_hint.upper() if len(currency_hint) == 3 else ""
    if not currency and parsed.currency:
        cur = parsed.currency.strip()
        currency = _SYMBOLS.get(cur, cur.upper() if len(cur) == 3 and cur.isalpha() else "")
    return amount, currency


class PriceFilter(Filter):
    name = "price"
    stage = "text"

    class Params(FilterParams):
        require: bool = Field(False, description="drop records without a price (URL lists seldom have one)")
        min_price: float = Field(0.0, ge=0)
        max_price: float = Field(1e9, gt=0)

    def check(self, record):  # type: ignore[override]
        p = self.params
        if record.price is None and record.price_text.strip():
            amount, currency = parse_price(record.price_text, record.currency)
            if amount is None:
                return Drop("bad_price", record.price_text[:80])
            record.price = amount
            record.currency = record.currency or currency
        if record.price is None:
            return Drop("no_price") if p.require else None
        if math.isnan(record.price) or not (p.min_price <= record.price <= p.max_price):
            return Drop("bad_price", str(record.price))
        return None
