"""DriverSpec.build_config: an empty section of a plain model skips validation, and gives
what validation would; every other model is validated, with the section as context."""

from __future__ import annotations

from typing import Any

import pytest
from agentstore.driver import DriverSpec, DriverStores
from agentstore.registry import NoConfig
from agentstore_sqlite.config import SqliteConfig
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, RootModel, ValidationError
from pydantic_core import core_schema


def _spec(model: type[BaseModel]) -> DriverSpec:
    return DriverSpec("x", open=lambda c, ctx: DriverStores(), config_model=model)


class Plain(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    name: str = "n"
    items: list[int] = Field(default_factory=lambda: [1, 2])


@pytest.mark.parametrize("model", [NoConfig, SqliteConfig, Plain])
def test_a_plain_model_is_built_as_validation_would(model: type[BaseModel]) -> None:
    built = _spec(model).build_config({}, {})
    assert built == model.model_validate({})
    assert built.model_fields_set == set()


class Seen(BaseModel):
    x: int = 1
    _context: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        self._context = context


class Strict(BaseModel):
    x: int = 1

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        def refuse(value: Any) -> Any:
            raise ValueError("this model refuses everything")

        return core_schema.no_info_after_validator_function(refuse, handler(source))


class Root(RootModel[dict[str, int]]):
    root: dict[str, int] = Field(default_factory=lambda: {"a": 1})


class CheckedDefault(BaseModel):
    x: int = Field(default=-1, ge=0, validate_default=True)


def test_model_post_init_gets_the_section_as_context() -> None:
    built = _spec(Seen).build_config({}, {})
    assert built._context == {"section": {}}  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", [Strict, CheckedDefault])
def test_a_model_that_validates_more_than_its_fields_is_validated(model: type[BaseModel]) -> None:
    with pytest.raises(ValidationError):
        _spec(model).build_config({}, {})
    assert _spec(model).needs_section


def test_a_root_model_is_validated() -> None:
    assert _spec(Root).build_config({}, {}) == Root.model_validate({})
