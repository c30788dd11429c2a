"""`gemini_clone.api`: the public names of the importable package."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import gemini_clone.api as api
import gemini_clone.application
import gemini_clone.domain
import gemini_clone.ports
from gemini_clone.domain.errors import GeminiCloneError


def core_classes(package: ModuleType) -> Iterator[tuple[str, type]]:
    """Public classes defined in the modules of a core package."""
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            defined_here = inspect.isclass(value) and value.__module__ == module.__name__
            if defined_here and not name.startswith("_"):
                yield name, value


def test_all_is_sorted_and_unique() -> None:
    assert api.__all__ == sorted(api.__all__)
    assert len(api.__all__) == len(set(api.__all__))


def test_every_exported_name_exists() -> None:
    missing = [name for name in api.__all__ if not hasattr(api, name)]

    assert missing == []


def test_star_import_gives_exactly_the_exported_names() -> None:
    namespace: dict[str, object] = {}
    exec("from gemini_clone.api import *", namespace)

    assert sorted(name for name in namespace if name != "__builtins__") == api.__all__


def test_exported_classes_and_functions_are_the_cores_own() -> None:
    exported = [getattr(api, name) for name in api.__all__]
    foreign = [
        value.__qualname__
        for value in exported
        if (inspect.isclass(value) or inspect.isfunction(value))
        and not value.__module__.startswith(
            ("gemini_clone.domain.", "gemini_clone.ports.", "gemini_clone.application.")
        )
    ]

    assert foreign == []


def test_every_use_case_is_exported() -> None:
    use_cases = {
        name
        for name, cls in core_classes(gemini_clone.application)
        if callable(getattr(cls, "execute", None))
    }

    assert {"SignUp", "SendMessage", "GenerateReply", "ApplyPaymentEvent"} <= use_cases
    assert sorted(use_cases - set(api.__all__)) == []


def test_every_error_is_exported() -> None:
    errors = {
        name for name, cls in core_classes(gemini_clone.domain) if issubclass(cls, Exception)
    } | {name for name, cls in core_classes(gemini_clone.ports) if issubclass(cls, Exception)}

    assert {"GeminiCloneError", "QuotaExceeded", "ModelError"} <= errors
    assert sorted(errors - set(api.__all__)) == []
    assert all(issubclass(getattr(api, name), Exception) for name in errors)


def test_the_main_entities_are_exported() -> None:
    entities = {"User", "Chatroom", "Message", "Subscription", "PaymentEvent", "TokenUsage"}

    assert sorted(entities - set(api.__all__)) == []


def test_every_port_protocol_is_exported() -> None:
    ports = {
        name
        for name, cls in core_classes(gemini_clone.ports)
        if getattr(cls, "_is_protocol", False)
    }

    assert {"LanguageModel", "PaymentGateway", "UnitOfWork", "Clock"} <= ports
    assert sorted(ports - set(api.__all__)) == []


def test_error_codes_are_stable_strings() -> None:
    codes = {
        name: getattr(api, name).code
        for name in api.__all__
        if inspect.isclass(getattr(api, name)) and issubclass(getattr(api, name), GeminiCloneError)
    }

    assert codes["QuotaExceeded"] == "daily_limit_reached"
    assert codes["InvalidInput"] == "validation_error"
    assert all(isinstance(code, str) and code for code in codes.values())


def test_importing_the_api_loads_no_framework_or_driver() -> None:
    forbidden = (
        "litestar",
        "msgspec",
        "sqlalchemy",
        "asyncpg",
        "aiosqlite",
        "taskiq",
        "redis",
        "httpx",
        "stripe",
        "jwt",
        "dependency_injector",
        "argon2",
        "phonenumbers",
        "gemini_clone.adapters",
        "gemini_clone.entrypoints",
    )
    probe = (
        "import sys, gemini_clone.api\n"
        f"loaded = [m for m in {forbidden!r} if any("
        "name == m or name.startswith(m + '.') for name in sys.modules)]\n"
        "print(','.join(loaded))"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == ""
