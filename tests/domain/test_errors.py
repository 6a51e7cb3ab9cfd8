"""The tree of domain errors and its codes."""

from __future__ import annotations

from domain.errors import DomainError, ErrorCode


def _tree(cls: type[DomainError]) -> list[type[DomainError]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _tree(child))]


def test_every_code_is_carried_by_an_error_class_and_only_codes_are() -> None:
    # given the error classes
    carried = [cls.code for cls in _tree(DomainError)]
    # then each carries a member of ErrorCode, and every member is carried by one of them
    assert all(isinstance(code, ErrorCode) for code in carried)
    assert set(carried) == set(ErrorCode)
