"""Pro subscriptions: checkout, payment events, status."""
