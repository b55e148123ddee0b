"""State outside the database follows the transaction: commit hooks run only on commit."""

from __future__ import annotations

from services.kernel.handler import Hooks


def test_commit_hooks_run_on_commit_and_never_on_rollback():
    done: list[str] = []
    hooks = Hooks()
    hooks.begin()
    hooks.after_commit(lambda: done.append("a"))
    hooks.after_rollback(lambda: done.append("undo a"))
    hooks.rolled_back()
    assert done == ["undo a"]
    hooks.begin()
    hooks.after_commit(lambda: done.append("b"))
    hooks.committed()
    assert done == ["undo a", "b"]


def test_a_savepoint_that_rolls_back_settles_its_own_hooks_only():
    done: list[str] = []
    hooks = Hooks()
    hooks.begin()
    hooks.after_commit(lambda: done.append("kept"))
    mark = hooks.mark()
    hooks.after_commit(lambda: done.append("dropped"))
    hooks.after_rollback(lambda: done.append("undone"))
    hooks.savepoint_rolled_back(mark)
    assert done == ["undone"]
    hooks.committed()
    assert done == ["undone", "kept"]


def test_outside_a_transaction_commit_hooks_run_at_once():
    done: list[str] = []
    hooks = Hooks()
    hooks.after_commit(lambda: done.append("now"))
    hooks.after_rollback(lambda: done.append("never"))
    assert done == ["now"]
