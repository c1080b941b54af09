"""Suite-wide plugins: every exchange with the Queue API is held against openapi.yaml."""

pytest_plugins = ["tests.support.contract"]
