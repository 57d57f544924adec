import pytest

# the contracts' asserts say what they compared when they fail, as a test module's do
pytest.register_assert_rewrite("tests.stdlib._source", "tests.stdlib._sqltable")
