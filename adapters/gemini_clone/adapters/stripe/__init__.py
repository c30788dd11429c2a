"""Stripe: the production `PaymentGateway`."""

from gemini_clone.adapters.stripe._gateway import STRIPE_API_VERSION, StripePaymentGateway

__all__ = ["STRIPE_API_VERSION", "StripePaymentGateway"]
