"""The registry of the images tests: the sink test reads a real image from it."""

from tests.integration.images.conftest import registry, registry_url  # noqa: F401 - fixtures, shared
