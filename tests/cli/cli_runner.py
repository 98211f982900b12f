"""Running ``studykit`` commands in-process for the CLI tests (imported by name: ``from cli_runner import ...``)."""

from click.testing import CliRunner

from studykit.cli import main


def invoke(*args):
    """Run ``studykit ARGS`` (each argument str()-ed); whatever the exit code, never a traceback."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def ok(*args):
    """Run ``studykit ARGS`` and require success."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result
