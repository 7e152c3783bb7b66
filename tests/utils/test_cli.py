"""The entry-point error convention: a UserError ends in one `error:` line and exit 2; --debug keeps the traceback."""
import pytest

from lib.config.node import ConfigError
from lib.families import UnknownNameError
from lib.utils.cli import UserError, run_main, wants_traceback


def _failing(exc):
    def main(argv):
        raise exc
    return main


@pytest.mark.parametrize("exc", [UserError("set --data_dir"), ConfigError("TRAIN.LR: expected a float"),
                                 UnknownNameError("unknown script 'x'; valid scripts: a, b")])
def test_a_user_error_is_one_line_and_exit_2(exc, capsys):
    assert run_main(_failing(exc), ["--opts"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {exc}\n"
    assert "'" not in err.split(";")[0].replace("'x'", "")  # KeyError subclasses are not printed quoted


def test_debug_shows_the_traceback():
    with pytest.raises(UserError):
        run_main(_failing(UserError("bad")), ["--debug", "1"])


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        run_main(_failing(ZeroDivisionError("bug")), [])


@pytest.mark.parametrize("argv,expected", [(["--debug"], True), (["--debug", "0"], False), (["--debug", "2"], True),
                                           (["--debug=1"], True), (["--debug=0"], False), (["x"], False),
                                           (["--debug", "--threads"], True)])
def test_wants_traceback(argv, expected):
    assert wants_traceback(argv) is expected
