"""The sandbox: a `PaymentGateway` that needs no payment provider (embedded mode)."""

from gemini_clone.adapters.sandbox._gateway import SandboxPaymentGateway

__all__ = ["SandboxPaymentGateway"]
