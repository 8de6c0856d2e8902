"""The `batchlab` parser and entry point: each module in COMMANDS registers its subcommands.

Adding a subcommand: one module with `register(sub, common)` that calls
`sub.add_parser(..., parents=[common])` and `set_defaults(func=...)`, where
`func(args, client) -> int` returns an exit code; then one line in COMMANDS.
"""

import argparse
import sys

from jobs.cli import job_types, jobs, schedules, watch, webhooks, workers, workflows
from jobs.cli.client import ApiError, Client, Unreachable
from jobs.cli.exit_codes import Exit
from jobs.cli.output import print_error

COMMANDS = (
    jobs,  # submit, list, show, cancel, retry
    watch,  # watch
    job_types,  # types [show|pause|resume|limits TYPE]
    workers,  # workers
    schedules,  # schedules list|show|create|edit|pause|resume|run|delete
    webhooks,  # webhooks create|list|test|deliveries|redeliver|listen
    workflows,  # workflows submit|show|list|cancel|retry
)

EPILOG = """\
settings: --base-url or BATCHLAB_URL (default http://127.0.0.1:8000); --token or BATCHLAB_TOKEN
(`manage.py batchlab_token USER`), or BATCHLAB_USER and BATCHLAB_PASSWORD.
exit codes: 0 completed (or done), 1 failed (or the API refused: problem+json on stderr),
2 canceled, 3 usage, 4 unreachable, 5 still running at --timeout."""


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; 2 means `canceled` here, so usage errors exit 3."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(Exit.USAGE, f"{self.prog}: error: {message}\n")


def _common_options(*, defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the subcommand (after it, they win)."""
    common = Parser(add_help=False, argument_default=None if defaults else argparse.SUPPRESS)
    common.add_argument("--base-url", metavar="URL", help="BatchLab's base URL (BATCHLAB_URL)")
    common.add_argument("--token", help="an API token (BATCHLAB_TOKEN)")
    common.add_argument("--json", action="store_true", default=False if defaults else argparse.SUPPRESS,
                        help="JSON on stdout, for scripts")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="batchlab", description="BatchLab command-line client.", epilog=EPILOG,
                    parents=[_common_options(defaults=True)], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options(defaults=False)
    for module in COMMANDS:
        module.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "parser"):
        args.parser = parser
    client = Client.from_options(base_url=args.base_url, token=args.token)
    try:
        return int(args.func(args, client))
    except ApiError as exc:
        print_error(str(exc), exc.body, as_json=args.json)
        return Exit.FAILED
    except Unreachable as exc:
        print_error(str(exc), as_json=False)
        return Exit.UNREACHABLE
    except KeyboardInterrupt:
        return 130
