"""Offers, vouchers, codes, QR, and validate / redeem / void."""
