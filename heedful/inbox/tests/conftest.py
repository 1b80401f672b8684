from heedful.knowledge.tests.fixtures import fake_engine, no_engine, returns_entry, shipping_entry

__all__ = ["fake_engine", "no_engine", "returns_entry", "shipping_entry"]
