"""The sandbox: a `PaymentGateway` that needs no payment provider (embedded mode, or
`PAYMENTS=sandbox`), and the gateway of a deployment that chose none."""

from gemini_clone.adapters.sandbox._gateway import SandboxPaymentGateway
from gemini_clone.adapters.sandbox._not_configured import NotConfiguredPaymentGateway
from gemini_clone.adapters.sandbox._page import SECURITY_HEADERS as PAGE_SECURITY_HEADERS

__all__ = ["PAGE_SECURITY_HEADERS", "NotConfiguredPaymentGateway", "SandboxPaymentGateway"]
